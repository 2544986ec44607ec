package io.vmguard.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-net as the VMM builds it: transmit on its I/O thread, receive on its own thread woken by frames
 * and kicks, never by a timer. The other end of the socket backend is the test's.
 */
class VirtioNetIoThreadTest {
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX;
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");
    /** The device's fallback wait for buffers and frames: a latency near it would mean a timer, not an event, woke it. */
    private static final long POLL_MILLIS = 100;

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(4 << 20);
    private final DriverRings receive = new DriverRings(ram, 64);
    private final DriverRings transmit = new DriverRings(ram, 64);
    private final RecordingInterrupt interrupts = new RecordingInterrupt();
    private final Arena arena = Arena.ofShared();
    private UnixDatagramBackend wire;
    private VirtioNet device;

    @BeforeEach
    void connect() throws Exception {
        Path vm = dir.resolve("vm.sock");
        Path peer = dir.resolve("peer.sock");
        wire = UnixDatagramBackend.open(peer, vm);
        device = new VirtioNet(UnixDatagramBackend.open(vm, peer), MAC, "net-rx-test", "net-tx-test");
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

    private int offerTransmit(byte[] frame) {
        return transmit.offer(DriverRings.Buffer.readable(ram.alloc(VirtioNet.HEADER_BYTES), VirtioNet.HEADER_BYTES),
                DriverRings.Buffer.readable(ram.put(frame), frame.length));
    }

    /** Nanoseconds until the device has returned {@code count} receive buffers in all (fails after 5 s). */
    private long awaitReceived(int count, long since) throws InterruptedException {
        long deadline = since + Duration.ofSeconds(5).toNanos();
        while (receive.usedIndex() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the device never delivered frame " + count);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
        return System.nanoTime() - since;
    }

    private static long median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    @Test
    void theIoThreadSendsTheFrameAndReturnsItsBuffer() throws Exception {
        byte[] frame = frame(1514, 1);
        int head = offerTransmit(frame);
        device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        MemorySegment received = arena.allocate(2048);
        int length = wire.receive(received, Duration.ofSeconds(5));
        assertArrayEquals(frame, received.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (transmit.usedIndex() < 1 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
        assertEquals(head, transmit.takeUsed().getFirst().head());
        deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (interrupts.usedInterrupts(VirtioNet.TRANSMIT_QUEUE) == 0 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
        assertEquals(1, interrupts.usedInterrupts(VirtioNet.TRANSMIT_QUEUE));
    }

    @Test
    void aPeerThatDoesNotReadStallsTheTransmitQueueNotTheKick() throws Exception {
        // The peer's socket queue holds a few frames; past them each send waits for room (milliseconds)
        // before the frame is lost. On the kicking vCPU that wait would be the guest's.
        int frames = 30; // two descriptors each, in a ring of 64
        for (int i = 0; i < frames; i++) {
            offerTransmit(frame(1514, i));
        }
        long start = System.nanoTime();
        device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        long kick = System.nanoTime() - start;
        assertTrue(kick < Duration.ofMillis(POLL_MILLIS / 2).toNanos(), "the kick took " + kick / 1000 + " us");
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (transmit.usedIndex() < frames && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(frames, transmit.usedIndex(), "every buffer comes back, sent or lost on the wire");
    }

    @Test
    void aFrameIsDeliveredAsItArrivesNotAtTheNextPoll() throws Exception {
        int rounds = 15;
        long[] latencies = new long[rounds];
        for (int i = 0; i < rounds; i++) {
            receive.offer(DriverRings.Buffer.writable(ram.alloc(1526), 1526));
        }
        device.queueNotified(VirtioNet.RECEIVE_QUEUE);
        for (int i = 0; i < rounds; i++) {
            Thread.sleep(POLL_MILLIS / 4 + i % 7); // arrivals spread over the device's poll period
            long sent = System.nanoTime();
            assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame(60, i))));
            latencies[i] = awaitReceived(i + 1, sent);
        }
        long median = median(latencies);
        assertTrue(median < Duration.ofMillis(POLL_MILLIS / 5).toNanos(),
                "median receive latency " + median / 1000 + " us; all (us): " + Arrays.toString(Arrays.stream(latencies).map(l -> l / 1000).toArray()));
    }

    @Test
    void aFrameWaitingForABufferIsDeliveredAtTheDriversKick() throws Exception {
        int rounds = 10;
        long[] latencies = new long[rounds];
        for (int i = 0; i < rounds; i++) {
            assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame(60, i))));
            Thread.sleep(POLL_MILLIS / 4 + i % 7); // the device holds it: no buffer yet
            receive.offer(DriverRings.Buffer.writable(ram.alloc(1526), 1526));
            long kicked = System.nanoTime();
            device.queueNotified(VirtioNet.RECEIVE_QUEUE);
            latencies[i] = awaitReceived(i + 1, kicked);
        }
        long median = median(latencies);
        assertTrue(median < Duration.ofMillis(POLL_MILLIS / 5).toNanos(),
                "median latency from the kick " + median / 1000 + " us; all (us): " + Arrays.toString(Arrays.stream(latencies).map(l -> l / 1000).toArray()));
    }

    @Test
    void aBrokenTransmitQueueFoundOnTheIoThreadFailsTheDevice() throws Exception {
        transmit.offer(DriverRings.Buffer.readable(ram.outside(), 100));
        device.queueNotified(VirtioNet.TRANSMIT_QUEUE); // returns: the thread finds the fault
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (interrupts.failures().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(1, interrupts.failures().size(), "reported through the context: " + interrupts.failures());
        assertTrue(interrupts.failures().getFirst().contains("transmit buffer"), interrupts.failures().toString());
    }
}
