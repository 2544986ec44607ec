package io.vmguard.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.FrameLatency;
import io.vmguard.testing.DriverRings;
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
    @TempDir
    Path dir;

    private VirtioNetRig rig;

    @BeforeEach
    void connect() throws Exception {
        rig = new VirtioNetRig(dir, 1 << 20, 16, "test-net-rx", null);
    }

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    void aTransmittedFrameLeavesWithoutItsVirtioHeader() throws Exception {
        byte[] frame = VirtioNetRig.frame(1514, 1);
        long header = rig.ram.alloc(VirtioNet.HEADER_BYTES);
        int head = rig.transmit.offer(DriverRings.Buffer.readable(header, VirtioNet.HEADER_BYTES),
                DriverRings.Buffer.readable(rig.ram.put(frame), frame.length));
        rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE);

        MemorySegment received = rig.arena.allocate(2048);
        int length = rig.wire.receive(received, Duration.ofSeconds(5));
        assertArrayEquals(frame, received.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(List.of(new DriverRings.Used(head, 0)), rig.transmit.takeUsed());
        assertEquals(1, rig.interrupts.usedInterrupts(VirtioNet.TRANSMIT_QUEUE));
        FrameLatency.Snapshot latency = rig.device.latency().snapshot();
        assertEquals(1, latency.transmit().count(), "kick to wire measured");
        assertEquals(1, latency.notifications());
        assertEquals(1, latency.interrupts());
    }

    @Test
    void aFrameFromTheWireWaitsForAReceiveBufferThenArrivesWithAHeader() throws Exception {
        byte[] frame = VirtioNetRig.frame(60, 2);
        assertTrue(rig.wire.send(rig.arena.allocateFrom(ValueLayout.JAVA_BYTE, frame)));
        Thread.sleep(200); // the device holds it: the driver has offered no buffer yet
        assertTrue(rig.receive.takeUsed().isEmpty());

        long buffer = rig.ram.alloc(1526);
        int head = rig.receive.offer(DriverRings.Buffer.writable(buffer, 1526));
        rig.device.queueNotified(VirtioNet.RECEIVE_QUEUE);

        List<DriverRings.Used> used = awaitUsed(rig.receive);
        assertEquals(List.of(new DriverRings.Used(head, VirtioNet.HEADER_BYTES + frame.length)), used);
        byte[] header = rig.ram.read(buffer, VirtioNet.HEADER_BYTES);
        assertEquals(1, header[10], "num_buffers");
        assertArrayEquals(frame, rig.ram.read(buffer + VirtioNet.HEADER_BYTES, frame.length));
        assertEquals(1, rig.interrupts.usedInterrupts(VirtioNet.RECEIVE_QUEUE));
        // The frame waited for the driver's buffer: the wait is the device's own receive latency. Its clock starts
        // when the receive thread takes the frame, which a loaded host may run a little after the send, so the
        // recorded wait can fall short of the test's 200 ms sleep by that much.
        assertTrue(rig.device.latency().snapshot().receive().minNanos() >= 150_000_000L, rig.device.latency().snapshot().toString());
    }

    @Test
    void aReceiveBufferTooSmallForTheFrameLosesTheFrameNotTheQueue() throws Exception {
        rig.receive.offer(DriverRings.Buffer.writable(rig.ram.alloc(100), 100));
        rig.device.queueNotified(VirtioNet.RECEIVE_QUEUE);
        assertTrue(rig.wire.send(rig.arena.allocateFrom(ValueLayout.JAVA_BYTE, VirtioNetRig.frame(1000, 3))));
        assertEquals(0, awaitUsed(rig.receive).getFirst().length());
        assertEquals(1, rig.device.dropped());
        assertTrue(rig.interrupts.failures().isEmpty());
    }

    @Test
    void aTransmitBufferOutsideGuestMemoryIsABrokenDriver() throws Exception {
        rig.transmit.offer(DriverRings.Buffer.readable(rig.ram.outside(), 100));
        try {
            rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        } catch (io.vmguard.virtio.QueueException expected) {
            assertTrue(expected.getMessage().contains("transmit buffer"), expected.getMessage());
            return;
        }
        throw new AssertionError("a transmit buffer outside memory went unnoticed");
    }

    @Test
    void runtFramesAreDroppedNotSent() throws Exception {
        rig.transmit.offer(DriverRings.Buffer.readable(rig.ram.alloc(VirtioNet.HEADER_BYTES + 4), VirtioNet.HEADER_BYTES + 4));
        rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        assertEquals(1, rig.device.dropped());
        assertEquals(0, rig.wire.receive(rig.arena.allocate(2048), Duration.ofMillis(200)));
    }

    @Test
    void configurationHoldsTheMacAndAnUpLink() {
        MemorySegment config = MemorySegment.ofArray(new byte[8]);
        rig.device.readConfig(0, config);
        byte[] bytes = config.toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(VirtioNetRig.MAC.bytes(), Arrays.copyOf(bytes, 6));
        assertEquals(1, bytes[6], "VIRTIO_NET_S_LINK_UP");
        assertFalse((rig.device.features() & (1L << 0)) != 0, "no checksum offload offered");
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
