package io.vmguard.virtio.console;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioFeatures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtioConsoleTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX;

    private final GuestRam ram = new GuestRam(1 << 20);
    private final RecordingInterrupt interrupt = new RecordingInterrupt();
    private DriverRings receive = new DriverRings(ram, 64);
    private final DriverRings transmit = new DriverRings(ram, 64);
    private final PipedOutputStream keyboard = new PipedOutputStream();
    private final FlushCountingStream screen = new FlushCountingStream();
    private final Map<Integer, Long> receiveBuffers = new HashMap<>();
    private VirtioConsole console;

    /** Guest output as the host saw it, and how often it was flushed. */
    private static final class FlushCountingStream extends ByteArrayOutputStream {
        int flushes;

        @Override
        public synchronized void flush() {
            flushes++;
        }
    }

    @AfterEach
    void close() {
        if (console != null) {
            console.close();
        }
    }

    private void start(InputStream input, OutputStream output) throws QueueException {
        console = VirtioConsole.start(input, output);
    }

    private void activate() throws QueueException {
        console.activate(interrupt.context(FEATURES, ram.dma(), receive.deviceQueue(ram.dma(), FEATURES),
                transmit.deviceQueue(ram.dma(), FEATURES)));
    }

    private PipedInputStream keyboardInput() throws IOException {
        return new PipedInputStream(keyboard, 1 << 16);
    }

    /** Offers one receive buffer of {@code size} bytes (remembered by head) and kicks. */
    private void offerReceiveBuffer(int size) throws QueueException {
        long address = ram.alloc(size);
        receiveBuffers.put(receive.offer(Buffer.writable(address, size)), address);
        console.queueNotified(VirtioConsole.RECEIVE_QUEUE);
    }

    /** Collects what the device put into used receive buffers, in order, until {@code expected} bytes came. */
    private String receiveUntil(int expected) throws InterruptedException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (got.size() < expected && System.nanoTime() < deadline) {
            for (DriverRings.Used used : receive.takeUsed()) {
                got.writeBytes(ram.read(receiveBuffers.remove(used.head()), used.length()));
            }
            Thread.sleep(5);
        }
        return got.toString(StandardCharsets.ISO_8859_1);
    }

    /** A reset, then the driver sets the device up again with fresh rings and one buffer queued before DRIVER_OK. */
    private void resetAndReactivate(int bufferSize) throws QueueException {
        console.reset();
        receive = new DriverRings(ram, 64);
        receiveBuffers.clear();
        long address = ram.alloc(bufferSize);
        receiveBuffers.put(receive.offer(Buffer.writable(address, bufferSize)), address);
        activate();
    }

    private void type(String text) throws IOException {
        keyboard.write(text.getBytes(StandardCharsets.ISO_8859_1));
        keyboard.flush();
    }

    @Test
    void guestOutputReachesTheHostInOrderAndIsFlushed() throws Exception {
        start(InputStream.nullInputStream(), screen);
        activate();
        long hello = ram.put("hello, ".getBytes(StandardCharsets.US_ASCII));
        long world = ram.put("wor".getBytes(StandardCharsets.US_ASCII));
        long rest = ram.put("ld\n".getBytes(StandardCharsets.US_ASCII));
        transmit.offer(Buffer.readable(hello, 7));
        transmit.offer(Buffer.readable(world, 3), Buffer.readable(rest, 3));
        console.queueNotified(VirtioConsole.TRANSMIT_QUEUE);
        assertEquals("hello, world\n", screen.toString(StandardCharsets.US_ASCII));
        assertTrue(screen.flushes > 0, "flushed after the batch");
        List<DriverRings.Used> used = transmit.takeUsed();
        assertEquals(2, used.size(), "both chains returned");
        assertEquals(0, used.getFirst().length(), "the device wrote nothing into them");
        assertEquals(1, interrupt.usedInterrupts(VirtioConsole.TRANSMIT_QUEUE));
    }

    @Test
    void largeOutputArrivesWhole() throws Exception {
        start(InputStream.nullInputStream(), screen);
        activate();
        byte[] text = new byte[10_000];
        new Random(1).nextBytes(text);
        transmit.offer(Buffer.readable(ram.put(text), text.length));
        console.queueNotified(VirtioConsole.TRANSMIT_QUEUE);
        assertArrayEquals(text, screen.toByteArray());
    }

    @Test
    void inputWaitsForBuffersAndArrivesInOrder() throws Exception {
        start(keyboardInput(), screen);
        activate();
        type("hello");
        Thread.sleep(200);
        assertTrue(receive.takeUsed().isEmpty(), "no buffers, nothing delivered, nothing lost");

        offerReceiveBuffer(3);
        offerReceiveBuffer(16);
        assertEquals("hello", receiveUntil(5));

        // A buffer already waiting: this input arrives through the pump thread alone.
        offerReceiveBuffer(64);
        type(" world");
        assertEquals(" world", receiveUntil(6));
        assertTrue(interrupt.usedInterrupts(VirtioConsole.RECEIVE_QUEUE) > 0);
    }

    @Test
    void muchInputIsDeliveredWholeAndInOrder() throws Exception {
        start(keyboardInput(), screen);
        activate();
        byte[] typed = new byte[20_000];
        new Random(2).nextBytes(typed);
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                keyboard.write(typed);
                keyboard.flush();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (got.size() < typed.length && System.nanoTime() < deadline) {
            if (receiveBuffers.size() < 8) { // a few small buffers at a time, like a slow reader
                offerReceiveBuffer(1000);
            }
            for (DriverRings.Used used : receive.takeUsed()) {
                got.writeBytes(ram.read(receiveBuffers.remove(used.head()), used.length()));
            }
            Thread.sleep(1);
        }
        writer.join(PATIENCE);
        assertArrayEquals(typed, got.toByteArray());
    }

    @Test
    void inputHeldAcrossAResetReachesTheNextActivation() throws Exception {
        start(keyboardInput(), screen);
        activate();
        type("ls\n");
        Thread.sleep(100);
        resetAndReactivate(64);
        assertEquals("ls\n", receiveUntil(3));
    }

    @Test
    void aBadReceiveBufferFailsTheDeviceButKeepsTheInput() throws Exception {
        start(keyboardInput(), screen);
        activate();
        receive.offer(Buffer.writable(ram.outside(), 64));
        console.queueNotified(VirtioConsole.RECEIVE_QUEUE);
        type("x");
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (interrupt.failures().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(1, interrupt.failures().size(), interrupt.failures().toString());
        resetAndReactivate(8);
        assertEquals("x", receiveUntil(1));
    }

    @Test
    void aBadTransmitBufferBreaksTheQueue() throws Exception {
        start(InputStream.nullInputStream(), screen);
        activate();
        transmit.offer(Buffer.readable(ram.outside(), 16));
        assertThrows(QueueException.class, () -> console.queueNotified(VirtioConsole.TRANSMIT_QUEUE));
    }

    @Test
    void aFailingHostStreamStillReturnsTheBuffers() throws Exception {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("Broken pipe");
            }
        };
        start(InputStream.nullInputStream(), broken);
        activate();
        transmit.offer(Buffer.readable(ram.put(new byte[] {'a'}), 1));
        transmit.offer(Buffer.readable(ram.put(new byte[] {'b'}), 1));
        console.queueNotified(VirtioConsole.TRANSMIT_QUEUE);
        assertEquals(2, transmit.takeUsed().size(), "the driver busy-waits for these: they must come back");
    }

    @Test
    void closeStopsAnInputThreadWaitingForBuffers() throws Exception {
        start(keyboardInput(), screen);
        activate();
        type("pending");
        Thread.sleep(100);
        assertTrue(console.inputRunning());
        console.close();
        assertTrue(console.awaitInputEnd(PATIENCE));
    }

    @Test
    void closeStopsAnInputThreadWaitingForInput() throws Exception {
        start(keyboardInput(), screen);
        Thread.sleep(100);
        assertTrue(console.inputRunning());
        console.close();
        assertTrue(console.awaitInputEnd(PATIENCE));
        assertFalse(console.inputRunning());
    }

    @Test
    void theInputThreadEndsAtEndOfInput() throws Exception {
        start(InputStream.nullInputStream(), screen);
        assertTrue(console.awaitInputEnd(PATIENCE));
    }
}
