package io.vmguard.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
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
    /** The device's fallback wait for buffers and frames: a latency near it would mean a timer, not an event, woke it. */
    private static final long POLL_MILLIS = 100;

    @TempDir
    Path dir;

    private VirtioNetRig rig;

    @BeforeEach
    void connect() throws Exception {
        rig = new VirtioNetRig(dir, 4 << 20, 64, "net-rx-test", "net-tx-test");
    }

    @AfterEach
    void close() {
        rig.close();
    }

    private int offerTransmit(byte[] frame) {
        return rig.transmit.offer(DriverRings.Buffer.readable(rig.ram.alloc(VirtioNet.HEADER_BYTES), VirtioNet.HEADER_BYTES),
                DriverRings.Buffer.readable(rig.ram.put(frame), frame.length));
    }

    /** Nanoseconds until the device has returned {@code count} receive buffers in all (fails after 5 s). */
    private long awaitReceived(int count, long since) throws InterruptedException {
        long deadline = since + Duration.ofSeconds(5).toNanos();
        while (rig.receive.usedIndex() < count) {
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
        byte[] frame = VirtioNetRig.frame(1514, 1);
        int head = offerTransmit(frame);
        rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        MemorySegment received = rig.arena.allocate(2048);
        int length = rig.wire.receive(received, Duration.ofSeconds(5));
        assertArrayEquals(frame, received.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (rig.transmit.usedIndex() < 1 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
        assertEquals(head, rig.transmit.takeUsed().getFirst().head());
        deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (rig.interrupts.usedInterrupts(VirtioNet.TRANSMIT_QUEUE) == 0 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(50_000);
        }
        assertEquals(1, rig.interrupts.usedInterrupts(VirtioNet.TRANSMIT_QUEUE));
    }

    @Test
    void aPeerThatDoesNotReadStallsTheTransmitQueueNotTheKick() throws Exception {
        // The peer's socket queue holds a few frames; past them each send waits for room (milliseconds)
        // before the frame is lost. On the kicking vCPU that wait would be the guest's.
        int frames = 30; // two descriptors each, in a ring of 64
        for (int i = 0; i < frames; i++) {
            offerTransmit(VirtioNetRig.frame(1514, i));
        }
        long start = System.nanoTime();
        rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        long kick = System.nanoTime() - start;
        assertTrue(kick < Duration.ofMillis(POLL_MILLIS / 2).toNanos(), "the kick took " + kick / 1000 + " us");
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (rig.transmit.usedIndex() < frames && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(frames, rig.transmit.usedIndex(), "every buffer comes back, sent or lost on the wire");
    }

    @Test
    void aFrameIsDeliveredAsItArrivesNotAtTheNextPoll() throws Exception {
        int rounds = 15;
        long[] latencies = new long[rounds];
        for (int i = 0; i < rounds; i++) {
            rig.receive.offer(DriverRings.Buffer.writable(rig.ram.alloc(1526), 1526));
        }
        rig.device.queueNotified(VirtioNet.RECEIVE_QUEUE);
        for (int i = 0; i < rounds; i++) {
            Thread.sleep(POLL_MILLIS / 4 + i % 7); // arrivals spread over the device's poll period
            long sent = System.nanoTime();
            assertTrue(rig.wire.send(rig.arena.allocateFrom(ValueLayout.JAVA_BYTE, VirtioNetRig.frame(60, i))));
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
            assertTrue(rig.wire.send(rig.arena.allocateFrom(ValueLayout.JAVA_BYTE, VirtioNetRig.frame(60, i))));
            Thread.sleep(POLL_MILLIS / 4 + i % 7); // the device holds it: no buffer yet
            rig.receive.offer(DriverRings.Buffer.writable(rig.ram.alloc(1526), 1526));
            long kicked = System.nanoTime();
            rig.device.queueNotified(VirtioNet.RECEIVE_QUEUE);
            latencies[i] = awaitReceived(i + 1, kicked);
        }
        long median = median(latencies);
        assertTrue(median < Duration.ofMillis(POLL_MILLIS / 5).toNanos(),
                "median latency from the kick " + median / 1000 + " us; all (us): " + Arrays.toString(Arrays.stream(latencies).map(l -> l / 1000).toArray()));
    }

    @Test
    void aBrokenTransmitQueueFoundOnTheIoThreadFailsTheDevice() throws Exception {
        rig.transmit.offer(DriverRings.Buffer.readable(rig.ram.outside(), 100));
        rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE); // returns: the thread finds the fault
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (rig.interrupts.failures().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(1, rig.interrupts.failures().size(), "reported through the context: " + rig.interrupts.failures());
        assertTrue(rig.interrupts.failures().getFirst().contains("transmit buffer"), rig.interrupts.failures().toString());
    }
}
