package io.vmguard.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.testing.FramePeer;
import io.vmguard.testing.PingResponder;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A real TAP interface, with the host kernel as the other end: it needs /dev/net/tun and CAP_NET_ADMIN
 * (root), and skips, saying which is missing, without them.
 */
class TapBackendTest {
    private static final long PID = ProcessHandle.current().pid();
    /** Per test JVM, so two test runs on one host (two worktrees) do not fight over a name or a subnet. */
    private static final String NAME = "vmgt" + PID;
    private static final String PREFIX = "198." + (18 + PID % 512 / 256) + "." + (PID % 256) + ".";
    /** The host's address on the tap, a guest address the tests answer for, and one nobody answers for. */
    private static final String HOST = PREFIX + "1";
    private static final String GUEST = PREFIX + "2";
    private static final String NOBODY = PREFIX + "3";
    private static final MacAddress GUEST_MAC = MacAddress.parse("52:54:00:a1:b2:c3");
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final Arena arena = Arena.ofShared();
    private TapBackend tap;

    @AfterEach
    void closeTap() {
        if (tap != null) {
            tap.close();
        }
        arena.close();
    }

    @Test
    void theHostReceivesWhatTheGuestSendsOnceTheLinkIsUp() throws Exception {
        tap = openTap();
        assertEquals("tap " + NAME, tap.description());
        assertEquals(NAME, tap.interfaceName());
        byte[] frame = new byte[60];
        Arrays.fill(frame, 0, 6, (byte) 0xff);
        System.arraycopy(GUEST_MAC.bytes(), 0, frame, 6, 6);
        frame[12] = (byte) 0x88;                                  // EtherType 0x88b5: local experimental
        frame[13] = (byte) 0xb5;

        assertFalse(tap.send(copy(frame)), "a new tap is down: the frame is lost, as on an unplugged cable");

        ip("link", "set", NAME, "up");
        long packets = statistic("rx_packets");
        long bytes = statistic("rx_bytes");
        assertTrue(tap.send(copy(frame)));
        assertEquals(packets + 1, statistic("rx_packets"), "the host counted the frame");
        assertEquals(bytes + 60, statistic("rx_bytes"));
        assertEquals(new NetCounters(1, 60, 1, 0, 0, 0, 0, 0), tap.counters());
    }

    @Test
    void hostAndGuestExchangeArpAndUdpByteExactly() throws Exception {
        tap = openTap();
        bringUpWithHostAddress();
        MemorySegment buffer = arena.allocate(1514);
        byte[] payload = "vmguard tap test".getBytes(StandardCharsets.US_ASCII);
        try (DatagramSocket udp = new DatagramSocket()) {
            udp.send(new DatagramPacket(payload, payload.length, InetAddress.getByName(GUEST), 9));

            // The host asks who has the guest address; the guest answers; the held datagram follows.
            byte[] arp = receive(buffer, f -> type(f) == 0x0806 && PingResponderProbe.isArpRequestFor(f, GUEST));
            assertNotNull(arp, "no ARP request for " + GUEST + " from the host");
            byte[] hostMac = Arrays.copyOfRange(arp, 6, 12);
            assertTrue(tap.send(copy(new PingResponder(GUEST_MAC, inet(GUEST)).respond(arp))));

            byte[] datagram = receive(buffer, f -> type(f) == 0x0800 && f[23] == 17);
            assertNotNull(datagram, "no UDP datagram after the ARP reply");
            assertArrayEquals(GUEST_MAC.bytes(), Arrays.copyOfRange(datagram, 0, 6), "to the guest's MAC");
            assertArrayEquals(hostMac, Arrays.copyOfRange(datagram, 6, 12));
            int udpHeader = 14 + (datagram[14] & 0x0f) * 4;
            assertEquals(9, (datagram[udpHeader + 2] & 0xff) << 8 | (datagram[udpHeader + 3] & 0xff), "to port 9");
            assertArrayEquals(payload, Arrays.copyOfRange(datagram, udpHeader + 8, udpHeader + 8 + payload.length));
        }
    }

    @Test
    void theHostCanPingAResponderBehindTheTap() throws Exception {
        tap = openTap();
        bringUpWithHostAddress();
        TapBackend owned = tap;
        tap = null;
        try (FramePeer peer = FramePeer.start(owned, new PingResponder(GUEST_MAC, inet(GUEST)))) {
            // As root the JDK pings with ICMP echo from a raw socket; the kernel checks the replies' checksums.
            assertTrue(inet(GUEST).isReachable(5000), GUEST + " did not answer the host's ping: " + peer.counters());
            assertNotNull(peer.awaitFrame(f -> type(f) == 0x0800 && f[23] == 1, Duration.ZERO), "the ping went through the peer");
            // The host can have the reply before the peer's send has returned and counted it.
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (peer.counters().txFrames() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(peer.counters().txFrames() >= 2, "an ARP reply and an echo reply: " + peer.counters());
        }
    }

    @Test
    void framesLongerThanTheBufferAreDroppedAndCountedNotTruncated() throws Exception {
        tap = openTap();
        bringUpWithHostAddress();
        try (DatagramSocket udp = new DatagramSocket()) {
            // The host keeps asking for an address nobody has: ARP requests of 42 bytes, a second apart.
            udp.send(new DatagramPacket(new byte[1], 1, InetAddress.getByName(NOBODY), 9));
            MemorySegment small = arena.allocate(20);
            assertEquals(0, tap.receive(small, Duration.ofMillis(1500)), "no frame fits in 20 bytes");
            assertTrue(tap.counters().rxDropped() >= 1, tap.counters().toString());
            assertEquals(0, tap.counters().rxFrames());

            byte[] arp = receive(arena.allocate(1514), f -> type(f) == 0x0806 && PingResponderProbe.isArpRequestFor(f, NOBODY));
            assertNotNull(arp, "the next ARP retry arrives whole in a buffer that fits");
            assertEquals(42, arp.length);
        }
    }

    @Test
    void closeWakesABlockedReceiverAndRemovesTheInterface() throws Exception {
        tap = openTap();
        TapBackend backend = tap;
        CompletableFuture<Integer> received = CompletableFuture.supplyAsync(() -> {
            try {
                return backend.receive(arena.allocate(1514), Duration.ofMinutes(10));
            } catch (NetException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(300);
        assertFalse(received.isDone());
        backend.close();
        assertEquals(NetBackend.CLOSED, received.get(2, TimeUnit.SECONDS));
        assertFalse(Files.exists(Path.of("/sys/class/net", NAME)), "a tap we created goes with its descriptor");
    }

    @Test
    void openingFailuresAreOneLine() throws Exception {
        assumeTrue(Files.exists(Path.of(TapBackend.DEVICE)), "no " + TapBackend.DEVICE + ": this host has no TUN/TAP");
        assertEquals("lo exists and is not a tap interface",
                assertThrows(NetException.class, () -> TapBackend.open("lo")).getMessage());
        assertEquals("bad interface name 'a/b': 1 to 15 bytes, no '/', ':' or white space",
                assertThrows(NetException.class, () -> TapBackend.open("a/b")).getMessage());
        tap = openTap();
        assertEquals("tap " + NAME + " is in use by another program",
                assertThrows(NetException.class, () -> TapBackend.open(NAME)).getMessage());
    }

    /** Opens the test's tap, or skips the test naming what this host lacks. */
    private static TapBackend openTap() throws NetException {
        assumeTrue(Files.exists(Path.of(TapBackend.DEVICE)), "no " + TapBackend.DEVICE + ": this host has no TUN/TAP (modprobe tun)");
        try {
            return TapBackend.open(NAME);
        } catch (NetException e) {
            assumeFalse(e.getMessage().contains("permission denied"), "creating a tap needs CAP_NET_ADMIN: " + e.getMessage());
            throw e;
        }
    }

    private static void bringUpWithHostAddress() throws Exception {
        ip("link", "set", NAME, "up");
        ip("addr", "add", HOST + "/24", "dev", NAME);
    }

    /** The next frame from the tap that {@code wanted} accepts, skipping the host's own chatter (IPv6 and the like). */
    private byte[] receive(MemorySegment buffer, Predicate<byte[]> wanted) throws NetException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            int length = tap.receive(buffer, Duration.ofNanos(deadline - System.nanoTime()));
            if (length > 0) {
                byte[] frame = buffer.asSlice(0, length).toArray(JAVA_BYTE);
                if (wanted.test(frame)) {
                    return frame;
                }
            }
        }
        return null;
    }

    private static int type(byte[] frame) {
        return (frame[12] & 0xff) << 8 | (frame[13] & 0xff);
    }

    private static long statistic(String name) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/sys/class/net", NAME, "statistics", name)).strip());
    }

    private static void ip(String... arguments) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("ip"));
        command.addAll(List.of(arguments));
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no ip program (iproute2) to configure the tap: " + e.getMessage());
            return;
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), String.join(" ", command) + ": " + output);
    }

    private static Inet4Address inet(String address) throws IOException {
        return (Inet4Address) InetAddress.getByName(address);
    }

    private MemorySegment copy(byte[] bytes) {
        return arena.allocateFrom(JAVA_BYTE, bytes);
    }

    /** Reads ARP requests the way a host would, to pick the one a test waits for out of the traffic. */
    private static final class PingResponderProbe {
        static boolean isArpRequestFor(byte[] frame, String address) {
            try {
                return frame.length >= 42 && frame[21] == 1
                        && Arrays.equals(frame, 38, 42, InetAddress.getByName(address).getAddress(), 0, 4);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
    }
}
