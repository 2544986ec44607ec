package io.vmguard.devices.legacy;

import io.vmguard.bus.BusRange;
import io.vmguard.bus.InterruptLine;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.Optional;

/**
 * A 16550A UART as Linux's 8250 driver sees it: eight byte registers, the first two doubling as the
 * divisor latch while LCR.DLAB is set.
 *
 * <p>Transmission is instant: a byte written to THR goes straight to the sink, so LSR always shows THRE
 * and TEMT. When the bytes reach the host is the sink's business (the VMM hands its console a line at a
 * time); {@link #flush()} pushes them out. The baud rate and line format are stored but mean nothing.
 *
 * <p>Reception: {@link #enqueueInput} (blocking) or {@link #offerInput} (non-blocking) put bytes from a
 * host thread into one bounded receive queue, which stands for both the chip's FIFO and the wire; when it
 * is full the host side waits, which is the back-pressure. Received data interrupts as soon as one byte
 * is waiting (a trigger level of 1), so the character-timeout interrupt never occurs; Linux treats both
 * alike. FCR's "clear receive FIFO" bit is ignored on purpose: Linux sets it while starting the port,
 * and honouring it would drop whatever a host script had already piped in, depending on timing.
 *
 * <p>Interrupts follow IER and the 16550's priority order (line status, received data, THR empty, modem
 * status). The {@link InterruptLine} is a level meaning "an interrupt is pending", changed only when that
 * changes, from inside the device's lock so that changes from the vCPU and input threads reach it in
 * order. Like QEMU's and Firecracker's UARTs, the line is not gated by MCR.OUT2, so guests written for
 * those run unchanged.
 *
 * <p>Loopback (MCR bit 4), which Linux's probe uses: transmitted bytes go to the receiver instead of the
 * sink, MSR's status lines mirror MCR's outputs, and outside input waits until loopback ends, as the real
 * receiver is cut off from the wire.
 */
public final class Serial8250 implements ByteRegisters, Snapshottable {
    /** Where COM1 lives on the I/O port bus. */
    public static final BusRange COM1 = new BusRange(0x3f8, 8);
    /** COM1's ISA interrupt. */
    public static final int COM1_IRQ = 4;
    public static final int DEFAULT_RECEIVE_CAPACITY = 64;

    // Register offsets; the first name applies to reads, the second to writes.
    private static final int DATA = 0; // RBR / THR; DLL while DLAB is set
    private static final int INTERRUPT_ENABLE = 1; // IER; DLM while DLAB is set
    private static final int INTERRUPT_ID = 2; // IIR / FCR
    private static final int LINE_CONTROL = 3;
    private static final int MODEM_CONTROL = 4;
    private static final int LINE_STATUS = 5;
    private static final int MODEM_STATUS = 6;
    private static final int SCRATCH = 7;

    private static final int IER_RECEIVED_DATA = 0x01;
    private static final int IER_THR_EMPTY = 0x02;
    private static final int IER_LINE_STATUS = 0x04;
    private static final int IER_MODEM_STATUS = 0x08;
    private static final int IER_WRITABLE = 0x0f;

    private static final int IIR_NONE_PENDING = 0x01;
    private static final int IIR_LINE_STATUS = 0x06;
    private static final int IIR_RECEIVED_DATA = 0x04;
    private static final int IIR_THR_EMPTY = 0x02;
    private static final int IIR_MODEM_STATUS = 0x00;
    /** Both bits set is how Linux tells a 16550A from an 8250/16450. */
    private static final int IIR_FIFOS_ENABLED = 0xc0;

    private static final int FCR_ENABLE_FIFOS = 0x01;
    private static final int LCR_DIVISOR_LATCH_ACCESS = 0x80;

    private static final int MCR_DTR = 0x01;
    private static final int MCR_RTS = 0x02;
    private static final int MCR_OUT1 = 0x04;
    private static final int MCR_OUT2 = 0x08;
    private static final int MCR_LOOPBACK = 0x10;
    private static final int MCR_WRITABLE = 0x1f;

    private static final int LSR_DATA_READY = 0x01;
    private static final int LSR_OVERRUN = 0x02;
    private static final int LSR_THR_EMPTY = 0x20;
    private static final int LSR_TRANSMITTER_EMPTY = 0x40;

    private static final int MSR_DELTA_CTS = 0x01;
    private static final int MSR_DELTA_DSR = 0x02;
    private static final int MSR_RING_TRAILING_EDGE = 0x04;
    private static final int MSR_DELTA_DCD = 0x08;
    private static final int MSR_CTS = 0x10;
    private static final int MSR_DSR = 0x20;
    private static final int MSR_RI = 0x40;
    private static final int MSR_DCD = 0x80;
    /** Outside loopback the far end looks present and ready, as on QEMU and Firecracker. */
    private static final int MSR_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD;

    /** 115200 / 12 = 9600 baud, what firmware usually leaves behind. */
    private static final int DEFAULT_DIVISOR = 12;
    /** 8 data bits, no parity, 1 stop bit. */
    private static final int DEFAULT_LINE_CONTROL = 0x03;

    private final OutputStream sink;
    private final InterruptLine interrupt;
    private final int receiveCapacity;
    private final ArrayDeque<Byte> received;

    private int interruptEnable;
    private int lineControl = DEFAULT_LINE_CONTROL;
    private int modemControl;
    private int scratch;
    private int divisor = DEFAULT_DIVISOR;
    private boolean fifosEnabled;
    private boolean overrun;
    /** THR became empty and nobody has acknowledged it yet (by an IIR read or a new THR write). */
    private boolean thrEmptyPending;
    private int modemStatusDeltas;
    private boolean interruptAsserted;
    /** The VMM paused the machine: outside input waits, as in loopback. */
    private boolean inputHeld;
    private IOException outputFailure;

    public Serial8250(OutputStream sink, InterruptLine interrupt) {
        this(sink, interrupt, DEFAULT_RECEIVE_CAPACITY);
    }

    public Serial8250(OutputStream sink, InterruptLine interrupt, int receiveCapacity) {
        if (receiveCapacity < 1) {
            throw new IllegalArgumentException("receive capacity must be positive: " + receiveCapacity);
        }
        this.sink = Objects.requireNonNull(sink, "sink");
        this.interrupt = Objects.requireNonNull(interrupt, "interrupt");
        this.receiveCapacity = receiveCapacity;
        this.received = new ArrayDeque<>(receiveCapacity);
    }

    @Override
    public synchronized int readRegister(long offset) {
        int value = switch ((int) offset) {
            case DATA -> divisorLatchSelected() ? divisor & 0xff : receiveByte();
            case INTERRUPT_ENABLE -> divisorLatchSelected() ? divisor >>> 8 : interruptEnable;
            case INTERRUPT_ID -> readInterruptId();
            case LINE_CONTROL -> lineControl;
            case MODEM_CONTROL -> modemControl;
            case LINE_STATUS -> readLineStatus();
            case MODEM_STATUS -> readModemStatus();
            case SCRATCH -> scratch;
            default -> 0xff; // only if registered over more than eight ports
        };
        updateInterruptLine();
        return value;
    }

    @Override
    public synchronized void writeRegister(long offset, int value) {
        switch ((int) offset) {
            case DATA -> {
                if (divisorLatchSelected()) {
                    divisor = (divisor & 0xff00) | value;
                } else {
                    transmit(value);
                }
            }
            case INTERRUPT_ENABLE -> {
                if (divisorLatchSelected()) {
                    divisor = (divisor & 0x00ff) | value << 8;
                } else {
                    writeInterruptEnable(value);
                }
            }
            case INTERRUPT_ID -> fifosEnabled = (value & FCR_ENABLE_FIFOS) != 0;
            case LINE_CONTROL -> lineControl = value;
            case MODEM_CONTROL -> writeModemControl(value);
            case SCRATCH -> scratch = value;
            default -> {} // LSR and MSR are read-only
        }
        updateInterruptLine();
    }

    /**
     * Puts all of {@code bytes} into the receive queue, waiting for the guest to drain it (or to leave
     * loopback) as needed. For a host reader thread; this is where back-pressure happens.
     *
     * @throws InterruptedException if the calling thread is interrupted while waiting; bytes already
     *     queued stay queued
     */
    public void enqueueInput(byte[] bytes) throws InterruptedException {
        enqueueInput(bytes, 0, bytes.length);
    }

    /** As {@link #enqueueInput(byte[])}, for {@code length} bytes of {@code bytes} from {@code offset}. */
    public synchronized void enqueueInput(byte[] bytes, int offset, int length) throws InterruptedException {
        Objects.checkFromIndexSize(offset, length, bytes.length);
        int accepted = acceptInput(bytes, offset, length);
        while (accepted < length) {
            wait(); // woken when the guest reads RBR or leaves loopback
            accepted += acceptInput(bytes, offset + accepted, length - accepted);
        }
    }

    /**
     * Puts as much of {@code length} bytes of {@code bytes} from {@code offset} into the receive queue as
     * fits now, without waiting; returns how many it took (0 while the queue is full or in loopback).
     */
    public synchronized int offerInput(byte[] bytes, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, bytes.length);
        return acceptInput(bytes, offset, length);
    }

    /**
     * While held, outside input is not taken: {@link #enqueueInput} waits (so a pump stops reading its
     * source, and what arrives meanwhile stays in the host's buffers) and {@link #offerInput} takes
     * nothing. For the VMM while the machine is paused, so the receiver and the interrupt line do not
     * change under a snapshot. The guest's own accesses are not affected (no vCPU runs anyway).
     */
    public synchronized void holdInput(boolean held) {
        inputHeld = held;
        if (!held) {
            notifyAll();
        }
    }

    /** Flushes the sink: for the VMM at power-off, and whenever it wants the output so far on the host. */
    public synchronized void flush() throws IOException {
        sink.flush();
    }

    /**
     * The sink's first write failure, if any. After one, output is dropped (a cut cable) rather than
     * stopping the guest, whose console is not worth killing it for.
     */
    public synchronized Optional<IOException> outputFailure() {
        return Optional.ofNullable(outputFailure);
    }

    /**
     * Every register, the divisor, the receive queue's bytes (the FIFO and the wire behind it) and the
     * interrupt conditions. The interrupt line's level is not kept: it follows from these, and a restore
     * drives it again. Output failures are the host's and are not kept.
     */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putInt("interruptEnable", interruptEnable)
                .putInt("lineControl", lineControl)
                .putInt("modemControl", modemControl)
                .putInt("scratch", scratch)
                .putInt("divisor", divisor)
                .putBoolean("fifosEnabled", fifosEnabled)
                .putBoolean("overrun", overrun)
                .putBoolean("thrEmptyPending", thrEmptyPending)
                .putInt("modemStatusDeltas", modemStatusDeltas);
        byte[] bytes = new byte[received.size()];
        int i = 0;
        for (byte b : received) {
            bytes[i++] = b;
        }
        out.putBytes("received", bytes);
    }

    /** Restores a fresh UART; every field is checked before any is set. */
    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        int newInterruptEnable = in.getInt("interruptEnable", 0, IER_WRITABLE);
        int newLineControl = in.getInt("lineControl", 0, 0xff);
        int newModemControl = in.getInt("modemControl", 0, MCR_WRITABLE);
        int newScratch = in.getInt("scratch", 0, 0xff);
        int newDivisor = in.getInt("divisor", 0, 0xffff);
        boolean newFifosEnabled = in.getBoolean("fifosEnabled");
        boolean newOverrun = in.getBoolean("overrun");
        boolean newThrEmptyPending = in.getBoolean("thrEmptyPending");
        int newDeltas = in.getInt("modemStatusDeltas", 0, MSR_DELTA_CTS | MSR_DELTA_DSR | MSR_RING_TRAILING_EDGE | MSR_DELTA_DCD);
        byte[] bytes = in.getBytes("received");
        if (bytes.length > receiveCapacity) {
            throw new SnapshotException("snapshot field " + (in.path().isEmpty() ? "" : in.path() + ".") + "received holds "
                    + bytes.length + " bytes, more than this UART's " + receiveCapacity);
        }
        interruptEnable = newInterruptEnable;
        lineControl = newLineControl;
        modemControl = newModemControl;
        scratch = newScratch;
        divisor = newDivisor;
        fifosEnabled = newFifosEnabled;
        overrun = newOverrun;
        thrEmptyPending = newThrEmptyPending;
        modemStatusDeltas = newDeltas;
        received.clear();
        for (byte b : bytes) {
            received.add(b);
        }
        notifyAll(); // the queue's room and loopback may have changed for a waiting enqueueInput
        updateInterruptLine();
    }

    private boolean divisorLatchSelected() {
        return (lineControl & LCR_DIVISOR_LATCH_ACCESS) != 0;
    }

    private boolean loopback() {
        return (modemControl & MCR_LOOPBACK) != 0;
    }

    private int receiveByte() {
        Byte next = received.poll();
        if (next == null) {
            return 0;
        }
        notifyAll(); // room for a waiting enqueueInput
        return Byte.toUnsignedInt(next);
    }

    private int acceptInput(byte[] bytes, int offset, int length) {
        if (loopback() || inputHeld) {
            return 0;
        }
        int accepted = Math.min(length, receiveCapacity - received.size());
        for (int i = 0; i < accepted; i++) {
            received.add(bytes[offset + i]);
        }
        if (accepted > 0) {
            updateInterruptLine();
        }
        return accepted;
    }

    private void transmit(int value) {
        if (loopback()) {
            if (received.size() < receiveCapacity) {
                received.add((byte) value);
            } else {
                overrun = true; // as on the chip: the new byte is lost and LSR says so
            }
        } else {
            sendToSink(value);
        }
        // The byte left at once, so THR is empty again: a new THR-empty interrupt, as after a real send.
        thrEmptyPending = true;
    }

    private void sendToSink(int value) {
        if (outputFailure != null) {
            return;
        }
        try {
            sink.write(value);
        } catch (IOException e) {
            outputFailure = e;
        }
    }

    private void writeInterruptEnable(int value) {
        int changed = (interruptEnable ^ value) & IER_WRITABLE;
        interruptEnable = value & IER_WRITABLE;
        // Enabling THRI while THR is empty raises the interrupt at once, even if an IIR read had
        // acknowledged it before: Linux's startup test (UART_BUG_THRE) toggles IER to check exactly this,
        // and its transmit path relies on it to start sending.
        if ((changed & IER_THR_EMPTY) != 0) {
            thrEmptyPending = (interruptEnable & IER_THR_EMPTY) != 0;
        }
    }

    private void writeModemControl(int value) {
        boolean wasLoopback = loopback();
        int linesBefore = modemStatusLines();
        modemControl = value & MCR_WRITABLE;
        int linesAfter = modemStatusLines();
        int changed = linesBefore ^ linesAfter;
        modemStatusDeltas |= (changed & (MSR_CTS | MSR_DSR | MSR_DCD)) >>> 4;
        if ((linesBefore & MSR_RI) != 0 && (linesAfter & MSR_RI) == 0) {
            modemStatusDeltas |= MSR_RING_TRAILING_EDGE;
        }
        if (wasLoopback && !loopback()) {
            notifyAll(); // outside input may flow again
        }
    }

    private int modemStatusLines() {
        if (!loopback()) {
            return MSR_CONNECTED;
        }
        int lines = 0;
        if ((modemControl & MCR_RTS) != 0) {
            lines |= MSR_CTS;
        }
        if ((modemControl & MCR_DTR) != 0) {
            lines |= MSR_DSR;
        }
        if ((modemControl & MCR_OUT1) != 0) {
            lines |= MSR_RI;
        }
        if ((modemControl & MCR_OUT2) != 0) {
            lines |= MSR_DCD;
        }
        return lines;
    }

    private int readInterruptId() {
        int pending = pendingInterrupt();
        if (pending == IIR_THR_EMPTY) {
            thrEmptyPending = false; // reading IIR acknowledges THR-empty, and only when it is the one shown
        }
        return pending | (fifosEnabled ? IIR_FIFOS_ENABLED : 0);
    }

    private int readLineStatus() {
        int status = LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
        if (!received.isEmpty()) {
            status |= LSR_DATA_READY;
        }
        if (overrun) {
            status |= LSR_OVERRUN;
            overrun = false; // error bits clear on read
        }
        return status;
    }

    private int readModemStatus() {
        int status = modemStatusLines() | modemStatusDeltas;
        modemStatusDeltas = 0;
        return status;
    }

    /** The highest-priority enabled interrupt, as IIR reports it. */
    private int pendingInterrupt() {
        if ((interruptEnable & IER_LINE_STATUS) != 0 && overrun) {
            return IIR_LINE_STATUS;
        }
        if ((interruptEnable & IER_RECEIVED_DATA) != 0 && !received.isEmpty()) {
            return IIR_RECEIVED_DATA;
        }
        if ((interruptEnable & IER_THR_EMPTY) != 0 && thrEmptyPending) {
            return IIR_THR_EMPTY;
        }
        if ((interruptEnable & IER_MODEM_STATUS) != 0 && modemStatusDeltas != 0) {
            return IIR_MODEM_STATUS;
        }
        return IIR_NONE_PENDING;
    }

    private void updateInterruptLine() {
        boolean pending = pendingInterrupt() != IIR_NONE_PENDING;
        if (pending != interruptAsserted) {
            interruptAsserted = pending;
            interrupt.set(pending);
        }
    }
}
