package io.vmguard.testing;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.MacAddress;
import io.vmguard.net.UnixDatagramBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The peer as a VM's socket backend sees it. */
class FramePeerTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void capturesWhatTheVmSendsAndDeliversWhatItIsGiven() throws Exception {
        Path vmPath = dir.resolve("vm.sock");
        Path peerPath = dir.resolve("peer.sock");
        try (Arena arena = Arena.ofConfined();
             UnixDatagramBackend vm = UnixDatagramBackend.open(vmPath, peerPath);
             FramePeer peer = FramePeer.socket(peerPath, vmPath, FramePeer.Responder.NONE)) {
            byte[] frame = new byte[1514];
            frame[1513] = 42;
            assertTrue(vm.send(arena.allocateFrom(JAVA_BYTE, frame)));
            assertArrayEquals(frame, peer.awaitFrame(WAIT));
            assertNull(peer.awaitFrame(Duration.ofMillis(100)), "nothing else arrived");

            assertTrue(peer.send(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
            MemorySegment buffer = arena.allocate(1514);
            assertEquals(15, vm.receive(buffer, WAIT));
            assertEquals(15, buffer.get(JAVA_BYTE, 14));
        }
    }

    @Test
    void echoSendsEveryFrameBack() throws Exception {
        Path vmPath = dir.resolve("vm.sock");
        Path peerPath = dir.resolve("peer.sock");
        try (Arena arena = Arena.ofConfined();
             UnixDatagramBackend vm = UnixDatagramBackend.open(vmPath, peerPath);
             FramePeer peer = FramePeer.socket(peerPath, vmPath, FramePeer.Responder.ECHO)) {
            MemorySegment buffer = arena.allocate(65535);
            for (int size : new int[] {60, 1514, 65535}) {
                byte[] frame = new byte[size];
                frame[size - 1] = (byte) size;
                assertTrue(vm.send(arena.allocateFrom(JAVA_BYTE, frame)));
                assertEquals(size, vm.receive(buffer, WAIT));
                assertArrayEquals(frame, buffer.asSlice(0, size).toArray(JAVA_BYTE));
            }
            // The VM can have a reply before the peer's send has returned and counted it.
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (peer.counters().txFrames() < 3 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(3, peer.counters().txFrames());
        }
    }

    @Test
    void aPingResponderPeerAnswersArpAndEcho() throws Exception {
        Path vmPath = dir.resolve("vm.sock");
        Path peerPath = dir.resolve("peer.sock");
        HexFormat hex = HexFormat.of();
        PingResponder responder = new PingResponder(MacAddress.parse("52:54:00:12:34:56"),
                (Inet4Address) InetAddress.getByName("10.0.2.2"));
        try (Arena arena = Arena.ofConfined();
             UnixDatagramBackend vm = UnixDatagramBackend.open(vmPath, peerPath);
             FramePeer peer = FramePeer.socket(peerPath, vmPath, responder)) {
            MemorySegment buffer = arena.allocate(1514);
            byte[] arpRequest = hex.parseHex("ffffffffffffaabbccddeeff08060001080006040001aabbccddeeff0a00020f0000000000000a000202");
            assertTrue(vm.send(arena.allocateFrom(JAVA_BYTE, arpRequest)));
            int length = vm.receive(buffer, WAIT);
            assertArrayEquals(responder.respond(arpRequest), buffer.asSlice(0, length).toArray(JAVA_BYTE));
            assertEquals(1, peer.counters().rxFrames());
        }
    }
}
