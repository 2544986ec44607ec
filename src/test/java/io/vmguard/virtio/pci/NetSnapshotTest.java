package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.MacAddress;
import io.vmguard.net.UnixDatagramBackend;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.net.VirtioNet;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * virtio-net through pause and a snapshot, with a real socket backend whose other end the test holds: the
 * restored card reopens its socket by path, keeps its MAC (or the clone's), and the driver's next frames
 * go both ways without set-up; frames that come while the card is paused wait.
 */
class NetSnapshotTest {
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX | 1L << 5 | 1L << 16;
    private static final int HEADER_BYTES = 12;
    private static final int RECEIVE = 0;
    private static final int TRANSMIT = 1;
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");
    private static final MacAddress OTHER_MAC = MacAddress.parse("52:54:00:ab:cd:ef");
    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(2 << 20);
    private final DriverRings receive = new DriverRings(ram, 16);
    private final DriverRings transmit = new DriverRings(ram, 16);
    private final Arena arena = Arena.ofShared();
    private Path vmSocket;
    private UnixDatagramBackend wire;
    private VirtioNet device;

    @BeforeEach
    void connect() throws Exception {
        vmSocket = dir.resolve("vm.sock");
        Path peer = dir.resolve("peer.sock");
        wire = UnixDatagramBackend.open(peer, vmSocket);
    }

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
        wire.close();
        arena.close();
    }

    private VirtioNet card(MacAddress mac) throws Exception {
        return new VirtioNet(UnixDatagramBackend.open(vmSocket, dir.resolve("peer.sock")), mac, "snapshot-net");
    }

    private TransportRig running(TransportRig.Kind kind) throws Exception {
        device = card(MAC);
        TransportRig rig = kind.build(device, ram, true);
        RegisterDriver driver = rig.driver();
        assertTrue(driver.negotiate(FEATURES));
        driver.enableQueue(RECEIVE, receive.layout());
        driver.enableQueue(TRANSMIT, transmit.layout());
        driver.status(driver.status() | DeviceStatus.DRIVER_OK);
        return rig;
    }

    private static byte[] frame(int length, int seed) {
        byte[] frame = new byte[length];
        for (int i = 0; i < length; i++) {
            frame[i] = (byte) (seed * 31 + i);
        }
        return frame;
    }

    private long offerReceiveBuffer(TransportRig rig) {
        long buffer = ram.alloc(1526);
        receive.offer(Buffer.writable(buffer, 1526));
        rig.driver().kick(RECEIVE);
        return buffer;
    }

    private void fromWire(byte[] frame) throws Exception {
        assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame)));
    }

    private byte[] toWire(TransportRig rig, byte[] frame) throws Exception {
        transmit.offer(Buffer.readable(ram.alloc(HEADER_BYTES), HEADER_BYTES), Buffer.readable(ram.put(frame), frame.length));
        rig.driver().kick(TRANSMIT);
        MemorySegment received = arena.allocate(2048);
        int length = wire.receive(received, WAIT);
        return received.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private static DriverRings.Used awaitUsed(DriverRings rings) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            List<DriverRings.Used> used = rings.takeUsed();
            if (!used.isEmpty()) {
                return used.getFirst();
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the device never returned a buffer");
    }

    /**
     * Pauses, saves through JSON, closes the old card (its socket file goes with it) and restores a fresh
     * card built with {@code freshMac} on a new socket at the same path; resumes it.
     */
    private TransportRig snapshotAndRestore(TransportRig rig, MacAddress freshMac, MacAddress override) throws Exception {
        rig.control().pause();
        StateWriter out = StateWriter.root();
        rig.save(out);
        StateReader saved = TransportRig.throughJson(out);
        device.close();
        device = card(freshMac);
        if (override != null) {
            device.useMacOnRestore(override);
        }
        TransportRig fresh = rig.kind().build(device, ram, false);
        fresh.restore(saved);
        fresh.control().resume();
        return fresh;
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aRestoredCardCarriesFramesBothWaysWithoutSetUp(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        long first = offerReceiveBuffer(rig);
        byte[] in = frame(60, 1);
        fromWire(in);
        assertEquals(HEADER_BYTES + in.length, awaitUsed(receive).length());
        assertArrayEquals(in, ram.read(first + HEADER_BYTES, in.length));
        byte[] out = frame(100, 2);
        assertArrayEquals(out, toWire(rig, out));
        transmit.takeUsed();

        TransportRig restored = snapshotAndRestore(rig, OTHER_MAC, null);

        assertEquals(MAC, device.mac(), "the snapshot's MAC wins over the one the fresh card was built with");
        long second = offerReceiveBuffer(restored);
        byte[] in2 = frame(70, 3);
        fromWire(in2);
        assertEquals(HEADER_BYTES + in2.length, awaitUsed(receive).length());
        assertArrayEquals(in2, ram.read(second + HEADER_BYTES, in2.length));
        assertEquals(2, receive.usedIndex(), "receive used index goes on");
        byte[] out2 = frame(200, 4);
        assertArrayEquals(out2, toWire(restored, out2));
        assertEquals(2, transmit.usedIndex(), "transmit used index goes on");
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void framesArrivingWhilePausedReachGuestMemoryOnlyAfterResume(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        long buffer = offerReceiveBuffer(rig);
        rig.control().pause();
        byte[] in = frame(60, 5);
        fromWire(in);
        Thread.sleep(300);
        assertEquals(0, receive.usedIndex(), "no buffer used while paused");
        assertArrayEquals(new byte[HEADER_BYTES + in.length], ram.read(buffer, HEADER_BYTES + in.length), "guest memory untouched");
        int interrupts = rig.interrupts();

        rig.control().resume();

        assertEquals(HEADER_BYTES + in.length, awaitUsed(receive).length());
        assertArrayEquals(in, ram.read(buffer + HEADER_BYTES, in.length));
        assertTrue(rig.interrupts() > interrupts, "interrupted after resume");
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aFrameTakenButNotYetDeliveredTravelsInTheSnapshot(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        byte[] in = frame(80, 6);
        fromWire(in); // no receive buffer yet: the card takes the frame and waits for one
        Thread.sleep(300);

        TransportRig restored = snapshotAndRestore(rig, MAC, null);

        long buffer = offerReceiveBuffer(restored);
        assertEquals(HEADER_BYTES + in.length, awaitUsed(receive).length());
        assertArrayEquals(in, ram.read(buffer + HEADER_BYTES, in.length));
    }

    @Test
    void aCloneKeepsTheMacTheVmmGaveIt() throws Exception {
        TransportRig rig = running(TransportRig.Kind.PCI);
        TransportRig restored = snapshotAndRestore(rig, OTHER_MAC, OTHER_MAC);
        assertEquals(OTHER_MAC, device.mac());
        byte[] config = new byte[6];
        for (int i = 0; i < 6; i++) {
            config[i] = (byte) ((RegisterDriver.Pci) restored.driver()).driver().deviceConfig(i, 1);
        }
        assertArrayEquals(OTHER_MAC.bytes(), config, "the guest reads the clone's MAC");
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void countersSeeFramesBothWays(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        offerReceiveBuffer(rig);
        fromWire(frame(60, 7));
        awaitUsed(receive);
        toWire(rig, frame(100, 8));
        var counters = rig.control().counters();
        assertEquals(2, counters.requests());
        assertEquals(160, counters.bytes());
        assertEquals(0, counters.errors());
        assertEquals(2, counters.notifications());
    }
}
