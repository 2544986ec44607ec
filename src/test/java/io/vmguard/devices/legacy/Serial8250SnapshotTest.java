package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.testing.RecordingLine;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The 16550A's registers, divisor, receive queue and interrupt state survive a snapshot. */
@Timeout(10)
class Serial8250SnapshotTest {
    private static final int DATA = 0;
    private static final int IER = 1;
    private static final int IIR_FCR = 2;
    private static final int LCR = 3;
    private static final int MCR = 4;
    private static final int LSR = 5;
    private static final int MSR = 6;
    private static final int SCRATCH = 7;

    private final RecordingLine line = new RecordingLine();
    private final ByteArrayOutputStream sink = new ByteArrayOutputStream();
    private final Serial8250 uart = new Serial8250(sink, line);

    /** A UART as Linux leaves it mid-session, with input waiting and an interrupt pending. */
    private void configure() {
        uart.writeRegister(LCR, 0x80); // DLAB
        uart.writeRegister(DATA, 0x01); // 115200 baud
        uart.writeRegister(IER, 0x00);
        uart.writeRegister(LCR, 0x1b); // 8 data bits, even parity
        uart.writeRegister(IIR_FCR, 0x01);
        uart.writeRegister(MCR, 0x0b); // DTR, RTS, OUT2
        uart.writeRegister(SCRATCH, 0x5a);
        uart.writeRegister(IER, 0x0d); // received data, line status, modem status
        byte[] input = "abc".getBytes(StandardCharsets.US_ASCII);
        assertEquals(3, uart.offerInput(input, 0, input.length));
        assertTrue(line.asserted());
    }

    @Test
    void aRestoredUartReadsBackEveryRegisterAndTheQueuedInput() throws Exception {
        configure();
        RecordingLine restoredLine = new RecordingLine();
        Serial8250 restored = new Serial8250(new ByteArrayOutputStream(), restoredLine);

        SnapshotJson.copy(uart, restored);

        assertTrue(restoredLine.asserted(), "the pending received-data interrupt is driven again");
        assertEquals(readAll(uart), readAll(restored));
        assertFalse(restoredLine.asserted(), "the queue drained, the interrupt went away");
    }

    @Test
    void theDivisorLatchIsRestored() throws Exception {
        configure();
        Serial8250 restored = new Serial8250(new ByteArrayOutputStream(), new RecordingLine());
        SnapshotJson.copy(uart, restored);

        restored.writeRegister(LCR, 0x9b);
        assertEquals(0x01, restored.readRegister(DATA));
        assertEquals(0x00, restored.readRegister(IER));
    }

    @Test
    void anOverrunInLoopbackIsKeptAndReported() throws Exception {
        Serial8250 small = new Serial8250(new ByteArrayOutputStream(), new RecordingLine(), 1);
        small.writeRegister(MCR, 0x10); // loopback
        small.writeRegister(DATA, 'x');
        small.writeRegister(DATA, 'y'); // the queue holds one: overrun
        Serial8250 restored = new Serial8250(new ByteArrayOutputStream(), new RecordingLine(), 1);
        SnapshotJson.copy(small, restored);

        assertEquals(0x01 | 0x02 | 0x60, restored.readRegister(LSR), "data ready, overrun, transmitter empty");
        assertEquals('x', restored.readRegister(DATA));
    }

    @Test
    void transmittingContinuesAfterARestore() throws Exception {
        configure();
        ByteArrayOutputStream restoredSink = new ByteArrayOutputStream();
        Serial8250 restored = new Serial8250(restoredSink, new RecordingLine());
        SnapshotJson.copy(uart, restored);

        restored.writeRegister(DATA, 'z');
        assertEquals("z", restoredSink.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void aDivisorBeyondSixteenBitsIsRefusedByName() {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotJson.copyCorrupted(uart,
                tree -> tree.put("divisor", 0x10000), new Serial8250(new ByteArrayOutputStream(), new RecordingLine())));
        assertEquals("snapshot field divisor is 65536, outside 0..65535", e.getMessage());
    }

    @Test
    void moreQueuedInputThanTheUartHoldsIsRefused() {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotJson.copyCorrupted(uart,
                tree -> tree.put("received", new byte[65]), new Serial8250(new ByteArrayOutputStream(), new RecordingLine())));
        assertEquals("snapshot field received holds 65 bytes, more than this UART's 64", e.getMessage());
    }

    @Test
    void aMissingRegisterIsRefusedAndChangesNothing() throws Exception {
        Serial8250 fresh = new Serial8250(new ByteArrayOutputStream(), new RecordingLine());
        List<Integer> before = readAll(new Serial8250(new ByteArrayOutputStream(), new RecordingLine()));
        configure();
        SnapshotException e = assertThrows(SnapshotException.class,
                () -> SnapshotJson.copyCorrupted(uart, tree -> tree.remove("scratch"), fresh));
        assertEquals("snapshot field scratch is missing", e.getMessage());
        assertEquals(before, readAll(fresh));
    }

    @Test
    void heldInputWaitsUntilReleased() throws Exception {
        uart.holdInput(true);
        byte[] key = {'k'};
        assertEquals(0, uart.offerInput(key, 0, 1));
        CompletableFuture<Void> pump = CompletableFuture.runAsync(() -> {
            try {
                uart.enqueueInput(key);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        assertFalse(pump.isDone(), "the pump waits while input is held");
        assertEquals(0x60, uart.readRegister(LSR), "nothing reached the receiver");

        uart.holdInput(false);
        pump.get(5, TimeUnit.SECONDS);
        assertEquals('k', uart.readRegister(DATA));
    }

    /** Every register, in an order that shows the read side effects (IIR, LSR, MSR, RBR). */
    private static List<Integer> readAll(Serial8250 uart) {
        List<Integer> values = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            for (int register : new int[] {IIR_FCR, LSR, MSR, IER, LCR, MCR, SCRATCH, DATA}) {
                values.add(uart.readRegister(register));
            }
        }
        return values;
    }
}
