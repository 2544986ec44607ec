package io.vmguard.virtio.block;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.VirtioFeatures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-blk with an I/O thread: the kick returns to the vCPU while the disk works, the request completes
 * on the thread with its interrupt, and pause waits for the request under way. The disk is made slow on
 * purpose (writes wait for the test) so the request is seen in flight.
 */
class VirtioBlockIoThreadTest {
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX | VirtioBlock.F_FLUSH;
    private static final int T_OUT = 1;
    private static final long WAIT_SECONDS = 10;

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(4 << 20);
    private final DriverRings rings = new DriverRings(ram, 16);
    private final RecordingInterrupt interrupt = new RecordingInterrupt();
    private WatchedChannel channel;
    private VirtioBlock device;
    private Path image;

    @BeforeEach
    void start() throws Exception {
        image = dir.resolve("disk.img");
        Files.write(image, new byte[64 * 1024]);
        channel = WatchedChannel.open(image);
        device = WatchedChannel.device(image, channel, "io-blk-test");
        device.activate(interrupt.context(FEATURES, ram.dma(), rings.deviceQueue(ram.dma(), FEATURES)));
    }

    @AfterEach
    void close() {
        CountDownLatch hold = channel.holdWrites;
        if (hold != null) {
            hold.countDown();
        }
        device.close();
    }

    /** Offers a one-sector write of {@code fill} at sector 1; returns its status byte's address. */
    private long offerWrite(byte fill) {
        long status = ram.alloc(1);
        ram.memory().writeByte(status, (byte) 0x7f);
        byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(T_OUT).putInt(0).putLong(1).array();
        byte[] data = new byte[512];
        Arrays.fill(data, fill);
        rings.offer(Buffer.readable(ram.put(header), 16), Buffer.readable(ram.put(data), 512), Buffer.writable(status, 1));
        return status;
    }

    /** Waits until the device has returned {@code count} chains in all. */
    private void awaitUsed(int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (rings.usedIndex() < count && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(count, rings.usedIndex(), "the I/O thread completed the request");
    }

    @Test
    void theKickReturnsBeforeTheRequestCompletesAndTheThreadCompletesIt() throws Exception {
        channel.holdWrites = new CountDownLatch(1);
        long status = offerWrite((byte) 0x5a);
        device.queueNotified(0); // the vCPU's kick: returns though the disk is held
        assertTrue(channel.writeArrived.await(WAIT_SECONDS, TimeUnit.SECONDS), "the I/O thread took the request");
        assertEquals(0, rings.usedIndex(), "not complete while the disk is busy");
        assertEquals(0, interrupt.usedInterrupts(0));

        channel.holdWrites.countDown();
        awaitUsed(1);
        assertEquals(0, ram.memory().readByte(status), "status OK");
        assertEquals(1, interrupt.usedInterrupts(0), "the driver hears of it from the I/O thread");
        assertEquals(0x5a, Files.readAllBytes(image)[512]);
        assertEquals(List.of(), interrupt.failures());
    }

    @Test
    void pauseWaitsForTheRequestUnderWayAndAKickWhilePausedWaitsForResume() throws Exception {
        channel.holdWrites = new CountDownLatch(1);
        offerWrite((byte) 1);
        device.queueNotified(0);
        assertTrue(channel.writeArrived.await(WAIT_SECONDS, TimeUnit.SECONDS));

        CompletableFuture<Void> pause = CompletableFuture.runAsync(device::pause);
        Thread.sleep(200);
        assertFalse(pause.isDone(), "pause waits while a request is under way");
        channel.holdWrites.countDown();
        pause.get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertEquals(1, rings.usedIndex(), "when pause returns, the request under way is complete");

        offerWrite((byte) 2);
        device.queueNotified(0); // paused: left for resume
        Thread.sleep(100);
        assertEquals(1, rings.usedIndex(), "nothing is served while paused");
        device.resume();
        device.queueNotified(0); // the transport kicks every queue at resume
        awaitUsed(2);
        assertEquals(2, Files.readAllBytes(image)[512]);
    }

    @Test
    void aBrokenQueueFoundOnTheIoThreadFailsTheDevice() throws Exception {
        // A chain with no device-writable byte has nowhere for its status.
        byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(T_OUT).putInt(0).putLong(1).array();
        rings.offer(Buffer.readable(ram.put(header), 16));
        device.queueNotified(0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (interrupt.failures().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(1, interrupt.failures().size(), "reported through the context: " + interrupt.failures());
        assertTrue(interrupt.failures().getFirst().contains("no device-writable status byte"), interrupt.failures().toString());
    }
}
