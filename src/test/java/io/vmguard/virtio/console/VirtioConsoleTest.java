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
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
    private final DriverRings controlReceive = new DriverRings(ram, 16);
    private final DriverRings controlTransmit = new DriverRings(ram, 16);
    private final Map<Integer, Long> controlBuffers = new HashMap<>();
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

    /** As Linux does: MULTIPORT negotiated, all four queues, control receive buffers queued before DRIVER_OK. */
    private void activateMultiport() throws QueueException {
        long features = FEATURES | VirtioConsole.F_MULTIPORT;
        for (int i = 0; i < 4; i++) {
            long address = ram.alloc(64);
            controlBuffers.put(controlReceive.offer(Buffer.writable(address, 64)), address);
        }
        console.activate(interrupt.context(features, ram.dma(), receive.deviceQueue(ram.dma(), features),
                transmit.deviceQueue(ram.dma(), features), controlReceive.deviceQueue(ram.dma(), features),
                controlTransmit.deviceQueue(ram.dma(), features)));
    }

    private static byte[] message(int id, int event, int value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(id).putShort((short) event).putShort((short) value).array();
    }

    /** The driver sends one control message and kicks. */
    private void sendControl(int id, int event, int value) throws QueueException {
        controlTransmit.offer(Buffer.readable(ram.put(message(id, event, value)), 8));
        console.queueNotified(VirtioConsole.CONTROL_TRANSMIT_QUEUE);
        assertEquals(1, controlTransmit.takeUsed().size(), "the control message came back");
    }

    /** The control messages the device sent since the last call. */
    private List<String> controlReceived() {
        List<String> messages = new java.util.ArrayList<>();
        for (DriverRings.Used used : controlReceive.takeUsed()) {
            assertEquals(8, used.length());
            ByteBuffer message = ByteBuffer.wrap(ram.read(controlBuffers.remove(used.head()), 8)).order(ByteOrder.LITTLE_ENDIAN);
            messages.add("port " + message.getInt() + " event " + message.getShort() + " value " + message.getShort());
        }
        return messages;
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
                keyboard.close(); // end of input, before this thread ends (a pipe's reader fails on a dead writer)
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

    @Test
    void withMultiportInputWaitsUntilTheGuestOpensThePort() throws Exception {
        start(keyboardInput(), screen);
        activateMultiport();
        type("early");
        offerReceiveBuffer(64); // Linux fills the queue before the port is registered...
        Thread.sleep(200);
        assertTrue(receive.takeUsed().isEmpty(), "...so nothing may arrive yet");

        sendControl(0xffffffff, ConsoleControl.DEVICE_READY, 1);
        assertEquals(List.of("port 0 event 1 value 1"), controlReceived(), "DEVICE_ADD port 0");
        sendControl(0, ConsoleControl.PORT_READY, 1);
        assertEquals(List.of("port 0 event 4 value 1", "port 0 event 6 value 1"), controlReceived(),
                "CONSOLE_PORT, then PORT_OPEN: the host side is open");
        Thread.sleep(100);
        assertTrue(receive.takeUsed().isEmpty(), "the port is not open on the guest's side yet");

        sendControl(0, ConsoleControl.PORT_OPEN, 1);
        assertEquals("early", receiveUntil(5));
        assertTrue(interrupt.usedInterrupts(VirtioConsole.CONTROL_RECEIVE_QUEUE) > 0);
    }

    @Test
    void controlMessagesWaitForControlBuffers() throws Exception {
        start(InputStream.nullInputStream(), screen);
        activateMultiport();
        for (int i = 0; i < 4; i++) { // use up the four buffers the driver gave
            sendControl(0xffffffff, ConsoleControl.DEVICE_READY, 1);
        }
        assertEquals(4, controlReceived().size());
        sendControl(0, ConsoleControl.PORT_READY, 1);
        assertTrue(controlReceived().isEmpty(), "no buffers: the answers wait");
        long address = ram.alloc(64);
        controlBuffers.put(controlReceive.offer(Buffer.writable(address, 64)), address);
        console.queueNotified(VirtioConsole.CONTROL_RECEIVE_QUEUE);
        assertEquals(List.of("port 0 event 4 value 1"), controlReceived());
    }

    @Test
    void aDriverThatRepeatsControlMessagesWithoutBuffersCannotGrowTheAnswerQueue() throws Exception {
        start(InputStream.nullInputStream(), screen);
        activateMultiport();
        for (int i = 0; i < 4; i++) { // use up the four buffers the driver gave
            sendControl(0xffffffff, ConsoleControl.DEVICE_READY, 1);
        }
        controlReceived();
        for (int i = 0; i < 1000; i++) {
            sendControl(0xffffffff, ConsoleControl.DEVICE_READY, 1);
        }
        int delivered = 0;
        for (int round = 0; round < 4; round++) { // then give more buffers than could ever be needed
            for (int i = 0; i < 8; i++) {
                long address = ram.alloc(64);
                controlBuffers.put(controlReceive.offer(Buffer.writable(address, 64)), address);
            }
            console.queueNotified(VirtioConsole.CONTROL_RECEIVE_QUEUE);
            delivered += controlReceived().size();
        }
        assertEquals(ConsoleControl.MAX_WAITING, delivered, "the answers that waited are bounded");
    }

    @Test
    void aControlBufferTooSmallForAMessageBreaksTheQueue() throws Exception {
        start(InputStream.nullInputStream(), screen);
        console.activate(interrupt.context(FEATURES | VirtioConsole.F_MULTIPORT, ram.dma(), receive.deviceQueue(ram.dma(), FEATURES),
                transmit.deviceQueue(ram.dma(), FEATURES), controlReceive.deviceQueue(ram.dma(), FEATURES),
                controlTransmit.deviceQueue(ram.dma(), FEATURES)));
        controlReceive.offer(Buffer.writable(ram.alloc(4), 4));
        controlTransmit.offer(Buffer.readable(ram.put(message(-1, ConsoleControl.DEVICE_READY, 1)), 8));
        assertThrows(QueueException.class, () -> console.queueNotified(VirtioConsole.CONTROL_TRANSMIT_QUEUE));
    }

    @Test
    void configSpaceSaysOnePort() {
        console = VirtioConsole.start(InputStream.nullInputStream(), screen);
        MemorySegment word = MemorySegment.ofArray(new byte[4]);
        console.readConfig(VirtioConsole.CONFIG_MAX_NR_PORTS, word);
        assertEquals(1, word.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        console.readConfig(0, word);
        assertEquals(0, word.get(ValueLayout.JAVA_INT_UNALIGNED, 0), "no size: cols and rows read as zero");
    }

    @Test
    void aBlockedHostStreamHoldsUpOnlyOutputNotAResetOrTheControlQueues() throws Exception {
        java.util.concurrent.CountDownLatch writing = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch unblock = new java.util.concurrent.CountDownLatch(1);
        OutputStream stuck = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                writing.countDown();
                try {
                    unblock.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        start(InputStream.nullInputStream(), stuck);
        activateMultiport();
        transmit.offer(Buffer.readable(ram.put("hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII)), 5));
        Thread vcpu = Thread.ofPlatform().start(() -> {
            try {
                console.queueNotified(VirtioConsole.TRANSMIT_QUEUE);
            } catch (QueueException e) {
                throw new AssertionError(e);
            }
        });
        try {
            assertTrue(writing.await(PATIENCE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS), "the write began");
            // Another vCPU's control message and a reset go through while the host stream is stuck.
            java.util.concurrent.CompletableFuture<Void> others = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    sendControl(0, 3, 1);
                } catch (QueueException e) {
                    throw new AssertionError(e);
                }
                console.reset();
            });
            others.get(PATIENCE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        } finally {
            unblock.countDown();
            vcpu.join(PATIENCE.toMillis());
        }
        assertTrue(transmit.takeUsed().isEmpty(), "the batch a reset cut short returns nothing to the old queue");
    }
}
