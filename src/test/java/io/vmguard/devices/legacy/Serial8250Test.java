package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.RecordingLine;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class Serial8250Test {
    private static final int BASE = 0x3f8;
    private static final int DATA = BASE;
    private static final int IER = BASE + 1;
    private static final int IIR_FCR = BASE + 2;
    private static final int LCR = BASE + 3;
    private static final int MCR = BASE + 4;
    private static final int LSR = BASE + 5;
    private static final int MSR = BASE + 6;
    private static final int SCR = BASE + 7;

    private final ByteArrayOutputStream sink = new ByteArrayOutputStream();
    private final RecordingLine line = new RecordingLine();
    private final PortIo io = new PortIo();

    private Serial8250 com1(OutputStream out, int receiveCapacity) {
        Serial8250 uart = new Serial8250(out, line, receiveCapacity);
        io.bus.register(Serial8250.COM1, uart);
        return uart;
    }

    private Serial8250 com1() {
        return com1(sink, Serial8250.DEFAULT_RECEIVE_CAPACITY);
    }

    private void send(String text) {
        for (byte b : text.getBytes(StandardCharsets.US_ASCII)) {
            io.outb(DATA, b);
        }
    }

    @Test
    void claimsExactlyTheEightCom1Ports() {
        com1();
        assertFalse(io.claimed(BASE - 1));
        for (int port = BASE; port < BASE + 8; port++) {
            assertTrue(io.claimed(port));
        }
        assertFalse(io.claimed(BASE + 8));
    }

    @Test
    void writesTransmittedBytesToTheSink() {
        com1();
        send("hello\n");
        assertEquals("hello\n", sink.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void flushPushesTransmittedBytesThroughABufferingSink() throws IOException {
        ByteArrayOutputStream underlying = new ByteArrayOutputStream();
        Serial8250 uart = com1(new BufferedOutputStream(underlying, 4096), 64);
        send("a");
        uart.flush();
        assertEquals("a", underlying.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void lineStatusShowsTheTransmitterAlwaysEmpty() {
        com1();
        assertEquals(0x60, io.inb(LSR));
        send("x");
        assertEquals(0x60, io.inb(LSR));
    }

    @Test
    void divisorLatchTakesOverDataAndInterruptEnableWhileDlabIsSet() {
        com1();
        io.outb(LCR, 0x83);
        io.outb(DATA, 0x01); // DLL: 115200 baud
        io.outb(IER, 0x00); // DLM
        assertEquals(0x01, io.inb(DATA));
        assertEquals(0x00, io.inb(IER));
        io.outb(LCR, 0x03);

        assertEquals(0, sink.size(), "a DLL write is not a transmission");
        assertEquals(0x00, io.inb(IER));
        io.outb(IER, 0x05);
        io.outb(LCR, 0x83);
        assertEquals(0x01, io.inb(DATA), "DLL kept");
        assertEquals(0x00, io.inb(IER), "DLM unchanged by the IER write");
    }

    @Test
    void interruptEnableKeepsOnlyItsFourBitsAsLinuxsProbeExpects() {
        com1();
        io.outb(IER, 0x00);
        assertEquals(0x00, io.inb(IER));
        io.outb(IER, 0xff);
        assertEquals(0x0f, io.inb(IER));
    }

    @Test
    void identifiesAsA16550aOnceFifosAreEnabled() {
        com1();
        assertEquals(0x01, io.inb(IIR_FCR));
        io.outb(IIR_FCR, 0x01);
        assertEquals(0xc1, io.inb(IIR_FCR));
    }

    @Test
    void scratchRegisterHoldsWhatIsWritten() {
        com1();
        io.outb(SCR, 0xa5);
        assertEquals(0xa5, io.inb(SCR));
    }

    @Test
    void reportsThrEmptyInterruptWhenEnabledAndClearsItOnIirRead() {
        com1();
        assertEquals(0x01, io.inb(IIR_FCR));
        io.outb(IER, 0x02);
        assertTrue(line.asserted());
        assertEquals(0x02, io.inb(IIR_FCR));
        assertFalse(line.asserted());
        assertEquals(0x01, io.inb(IIR_FCR));
        assertEquals(List.of(true, false), line.calls());
    }

    @Test
    void reraisesThrEmptyWhenThriIsSetAgain() {
        // Linux's UART_BUG_THRE check: THRI on, read IIR, THRI off and on, read IIR again.
        com1();
        io.outb(IER, 0x02);
        assertEquals(0x02, io.inb(IIR_FCR));
        io.outb(IER, 0x00);
        io.outb(IER, 0x02);
        assertEquals(0x02, io.inb(IIR_FCR));
    }

    @Test
    void transmittingRaisesThrEmptyAgain() {
        com1();
        io.outb(IER, 0x02);
        io.inb(IIR_FCR);
        send("x");
        assertTrue(line.asserted());
        assertEquals(0x02, io.inb(IIR_FCR));
    }

    @Test
    void disablingThriWithdrawsThePendingInterrupt() {
        com1();
        io.outb(IER, 0x02);
        io.outb(IER, 0x00);
        assertFalse(line.asserted());
        assertEquals(0x01, io.inb(IIR_FCR));
    }

    @Test
    void receivedInputSetsDataReadyAndRaisesTheInterruptUntilRead() throws InterruptedException {
        Serial8250 uart = com1();
        io.outb(IER, 0x01);
        assertFalse(line.asserted());

        uart.enqueueInput("ok".getBytes(StandardCharsets.US_ASCII));
        assertEquals(0x61, io.inb(LSR));
        assertTrue(line.asserted());
        assertEquals(0x04, io.inb(IIR_FCR));

        assertEquals('o', io.inb(DATA));
        assertTrue(line.asserted(), "one byte still waiting");
        assertEquals('k', io.inb(DATA));
        assertFalse(line.asserted());
        assertEquals(0x60, io.inb(LSR));
        assertEquals(0x01, io.inb(IIR_FCR));
    }

    @Test
    void receivedDataOutranksThrEmpty() throws InterruptedException {
        Serial8250 uart = com1();
        io.outb(IER, 0x03);
        uart.enqueueInput(new byte[] {'a'});
        assertEquals(0x04, io.inb(IIR_FCR));
        io.inb(DATA);
        assertEquals(0x02, io.inb(IIR_FCR));
    }

    @Test
    void interruptLineIsSetOnlyWhenPendingChanges() throws InterruptedException {
        Serial8250 uart = com1();
        io.outb(IER, 0x03); // THR empty: assert
        uart.enqueueInput(new byte[] {'a', 'b'}); // still pending: no call
        io.inb(DATA);
        io.inb(DATA); // THR-empty still pending: no call
        send("z"); // re-arms what is already armed: no call
        io.inb(LSR);
        io.inb(MSR);
        assertEquals(0x02, io.inb(IIR_FCR)); // acknowledges THR-empty: deassert
        io.inb(IIR_FCR);
        io.outb(IER, 0x00);
        assertEquals(List.of(true, false), line.calls());
    }

    @Test
    void offerInputTakesOnlyWhatFits() {
        Serial8250 uart = com1(sink, 4);
        byte[] input = "abcdef".getBytes(StandardCharsets.US_ASCII);
        assertEquals(4, uart.offerInput(input, 0, input.length));
        assertEquals(0, uart.offerInput(input, 4, 2));
        assertEquals('a', io.inb(DATA));
        assertEquals(1, uart.offerInput(input, 4, 2));
    }

    @Test
    void enqueueInputWaitsForTheGuestToDrainTheQueue() throws Exception {
        Serial8250 uart = com1(sink, 4);
        byte[] input = "0123456789".getBytes(StandardCharsets.US_ASCII);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                uart.enqueueInput(input);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });

        byte[] read = new byte[input.length];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (int i = 0; i < read.length; i++) {
            while ((io.inb(LSR) & 0x01) == 0) {
                assertTrue(System.nanoTime() < deadline, "input stalled after " + i + " bytes");
                Thread.onSpinWait();
            }
            read[i] = (byte) io.inb(DATA);
        }
        writer.get(10, TimeUnit.SECONDS);
        assertArrayEquals(input, read);
    }

    @Test
    void loopbackSendsTransmittedBytesToTheReceiverNotTheSink() {
        com1();
        io.outb(MCR, 0x10);
        send("q");
        assertEquals(0, sink.size());
        assertEquals(0x61, io.inb(LSR));
        assertEquals('q', io.inb(DATA));
        io.outb(MCR, 0x00);
        send("r");
        assertEquals("r", sink.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void loopbackMirrorsModemControlInModemStatus() {
        com1();
        assertEquals(0xb0, io.inb(MSR) & 0xf0, "outside loopback the far end looks ready");
        io.outb(MCR, 0x1a); // loop, RTS, OUT2: Linux's 8250 probe expects CTS and DCD
        assertEquals(0x90, io.inb(MSR) & 0xf0);
        io.outb(MCR, 0x15); // loop, DTR, OUT1
        assertEquals(0x60, io.inb(MSR) & 0xf0);
    }

    @Test
    void modemStatusDeltasRecordChangesUntilRead() {
        com1();
        io.outb(MCR, 0x10); // CTS, DSR, DCD all drop
        assertEquals(0x0b, io.inb(MSR));
        assertEquals(0x00, io.inb(MSR));
        io.outb(MCR, 0x14); // RI rises: no delta
        io.outb(MCR, 0x10); // RI falls: trailing edge
        assertEquals(0x04, io.inb(MSR));
    }

    @Test
    void outsideInputWaitsWhileInLoopback() {
        Serial8250 uart = com1();
        io.outb(MCR, 0x10);
        assertEquals(0, uart.offerInput(new byte[] {'x'}, 0, 1));
        io.outb(MCR, 0x00);
        assertEquals(1, uart.offerInput(new byte[] {'x'}, 0, 1));
    }

    @Test
    void loopbackOverrunIsReportedOnceInLineStatus() {
        com1(sink, 1);
        io.outb(IER, 0x04);
        io.outb(MCR, 0x10);
        send("ab");
        assertTrue(line.asserted());
        assertEquals(0x06, io.inb(IIR_FCR));
        assertEquals(0x63, io.inb(LSR));
        assertEquals(0x61, io.inb(LSR));
        assertFalse(line.asserted());
        assertEquals('a', io.inb(DATA));
    }

    @Test
    void aFailingSinkDropsOutputButTheGuestRunsOn() {
        IOException broken = new IOException("pipe closed");
        Serial8250 uart = com1(new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw broken;
            }
        }, 64);
        send("ab");
        assertEquals(broken, uart.outputFailure().orElseThrow());
        assertEquals(0x60, io.inb(LSR));
    }

    @Test
    void consoleInputPumpsAStreamIntoTheReceiverUntilEndOfStream() throws Exception {
        Serial8250 uart = com1(sink, 4);
        byte[] typed = "typed on the host".getBytes(StandardCharsets.US_ASCII);
        try (ConsoleInput input = ConsoleInput.start(new ByteArrayInputStream(typed), uart)) {
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (received.size() < typed.length) {
                assertTrue(System.nanoTime() < deadline, "pump stalled");
                if ((io.inb(LSR) & 0x01) != 0) {
                    received.write(io.inb(DATA));
                }
            }
            assertArrayEquals(typed, received.toByteArray());
            assertTrue(input.awaitEnd(Duration.ofSeconds(10)));
            assertTrue(input.failure().isEmpty());
        }
    }

    @Test
    void closingConsoleInputStopsAPumpWaitingForTheGuest() throws Exception {
        Serial8250 uart = com1(sink, 1);
        ConsoleInput input = ConsoleInput.start(new ByteArrayInputStream(new byte[100]), uart);
        input.close();
        assertTrue(input.awaitEnd(Duration.ofSeconds(10)));
    }
}
