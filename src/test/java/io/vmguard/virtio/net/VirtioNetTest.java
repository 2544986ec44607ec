package io.vmguard.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.FrameLatency;
import io.vmguard.net.MacAddress;
import io.vmguard.net.UnixDatagramBackend;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.VirtioFeatures;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** virtio-net between a driver's rings and a real socket backend whose other end the test holds. */
class VirtioNetTest {
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX;
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(1 << 20);
    private final DriverRings receive = new DriverRings(ram, 16);
    private final DriverRings transmit = new DriverRings(ram, 16);
    private final RecordingInterrupt interrupts = new RecordingInterrupt();
    private final Arena arena = Arena.ofShared();
    private UnixDatagramBackend wire;
    private VirtioNet device;

    @BeforeEach
    void connect() throws Exception {
        Path vm = dir.resolve("vm.sock");
        Path peer = dir.resolve("peer.sock");
        wire = UnixDatagramBackend.open(peer, vm);
        device = new VirtioNet(UnixDatagramBackend.open(vm, peer), MAC, "test-net");
        device.activate(interrupts.context(FEATURES, ram.dma(), receive.deviceQueue(ram.dma(), FEATURES),
                transmit.deviceQueue(ram.dma(), FEATURES)));
    }

    @AfterEach
    void close() {
        device.close();
        wire.close();
        arena.close();
    }

    private static byte[] frame(int length, int seed) {
        byte[] frame = new byte[length];
        for (int i = 0; i < length; i++) {
            frame[i] = (byte) (seed * 31 + i);
        }
        return frame;
    }

    @Test
    void aTransmittedFrameLeavesWithoutItsVirtioHeader() throws Exception {
        byte[] frame = frame(1514, 1);
        long header = ram.alloc(VirtioNet.HEADER_BYTES);
        int head = transmit.offer(DriverRings.Buffer.readable(header, VirtioNet.HEADER_BYTES),
                DriverRings.Buffer.readable(ram.put(frame), frame.length));
        device.queueNotified(VirtioNet.TRANSMIT_QUEUE);

        MemorySegment received = arena.allocate(2048);
        int length = wire.receive(received, Duration.ofSeconds(5));
        assertArrayEquals(frame, received.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(List.of(new DriverRings.Used(head, 0)), transmit.takeUsed());
        assertEquals(1, interrupts.usedInterrupts(VirtioNet.TRANSMIT_QUEUE));
        FrameLatency.Snapshot latency = device.latency().snapshot();
        assertEquals(1, latency.transmit().count(), "kick to wire measured");
        assertEquals(1, latency.notifications());
        assertEquals(1, latency.interrupts());
    }

    @Test
    void aFrameFromTheWireWaitsForAReceiveBufferThenArrivesWithAHeader() throws Exception {
        byte[] frame = frame(60, 2);
        assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame)));
        Thread.sleep(200); // the device holds it: the driver has offered no buffer yet
        assertTrue(receive.takeUsed().isEmpty());

        long buffer = ram.alloc(1526);
        int head = receive.offer(DriverRings.Buffer.writable(buffer, 1526));
        device.queueNotified(VirtioNet.RECEIVE_QUEUE);

        List<DriverRings.Used> used = awaitUsed(receive);
        assertEquals(List.of(new DriverRings.Used(head, VirtioNet.HEADER_BYTES + frame.length)), used);
        byte[] header = ram.read(buffer, VirtioNet.HEADER_BYTES);
        assertEquals(1, header[10], "num_buffers");
        assertArrayEquals(frame, ram.read(buffer + VirtioNet.HEADER_BYTES, frame.length));
        assertEquals(1, interrupts.usedInterrupts(VirtioNet.RECEIVE_QUEUE));
        // The frame waited for the driver's buffer: the wait is the device's own receive latency.
        assertTrue(device.latency().snapshot().receive().minNanos() >= 200_000_000L, device.latency().snapshot().toString());
    }

    @Test
    void aReceiveBufferTooSmallForTheFrameLosesTheFrameNotTheQueue() throws Exception {
        receive.offer(DriverRings.Buffer.writable(ram.alloc(100), 100));
        device.queueNotified(VirtioNet.RECEIVE_QUEUE);
        assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame(1000, 3))));
        assertEquals(0, awaitUsed(receive).getFirst().length());
        assertEquals(1, device.dropped());
        assertTrue(interrupts.failures().isEmpty());
    }

    @Test
    void aTransmitBufferOutsideGuestMemoryIsABrokenDriver() throws Exception {
        transmit.offer(DriverRings.Buffer.readable(ram.outside(), 100));
        try {
            device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        } catch (io.vmguard.virtio.QueueException expected) {
            assertTrue(expected.getMessage().contains("transmit buffer"), expected.getMessage());
            return;
        }
        throw new AssertionError("a transmit buffer outside memory went unnoticed");
    }

    @Test
    void runtFramesAreDroppedNotSent() throws Exception {
        transmit.offer(DriverRings.Buffer.readable(ram.alloc(VirtioNet.HEADER_BYTES + 4), VirtioNet.HEADER_BYTES + 4));
        device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        assertEquals(1, device.dropped());
        assertEquals(0, wire.receive(arena.allocate(2048), Duration.ofMillis(200)));
    }

    @Test
    void configurationHoldsTheMacAndAnUpLink() {
        MemorySegment config = MemorySegment.ofArray(new byte[8]);
        device.readConfig(0, config);
        byte[] bytes = config.toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(MAC.bytes(), Arrays.copyOf(bytes, 6));
        assertEquals(1, bytes[6], "VIRTIO_NET_S_LINK_UP");
        assertFalse((device.features() & (1L << 0)) != 0, "no checksum offload offered");
    }

    private static List<DriverRings.Used> awaitUsed(DriverRings rings) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            List<DriverRings.Used> used = rings.takeUsed();
            if (!used.isEmpty()) {
                return used;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the device never returned a buffer");
    }
}
