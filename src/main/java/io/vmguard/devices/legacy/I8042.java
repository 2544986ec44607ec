package io.vmguard.devices.legacy;

import io.vmguard.bus.Bus;
import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import io.vmguard.bus.InterruptLine;
import io.vmguard.devices.PowerControl;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * The PC keyboard controller, as much of it as Linux needs, modelled on Firecracker's: status reads, the
 * controller commands Linux's i8042 driver sends while probing, and the reset line, which is how Linux
 * reboots ({@code reboot=k}) and which vmguard treats as the end of the run.
 *
 * <p>It answers at two ports, 0x60 (data) and 0x64 (status on read, command on write), so it is two bus
 * devices sharing one state; {@link #registerOn(Bus)} registers both. Port 0x61-0x63 (system control, PIT
 * gate) are not the controller's and stay free.
 *
 * <p>There is no keyboard and no auxiliary (mouse) port behind it. Bytes for the keyboard are answered
 * with ACK (0xFA) and a keyboard interrupt, which is enough for Linux's atkbd to settle; the AUX
 * disable/enable commands change nothing, so Linux's AUX probe, which checks that they flip a bit in the
 * command byte, finds no mouse to talk to.
 *
 * <p>The one key press the VMM makes is Ctrl+Alt+Del ({@link #sendCtrlAltDel()}), as Firecracker's
 * SendCtrlAltDel does: the keyboard's scancodes, set 2 as the keyboard sends them, or set 1 when the
 * command byte asks the controller to translate (XLATE), as it does for the guest.
 */
public final class I8042 implements Snapshottable {
    public static final BusRange DATA_PORT = new BusRange(0x60, 1);
    public static final BusRange STATUS_COMMAND_PORT = new BusRange(0x64, 1);
    /** The keyboard's ISA interrupt. */
    public static final int KEYBOARD_IRQ = 1;

    private static final int STATUS_OUTPUT_FULL = 0x01;
    private static final int STATUS_SYSTEM_FLAG = 0x04;
    private static final int STATUS_LAST_WRITE_WAS_COMMAND = 0x08;
    private static final int STATUS_KEYBOARD_NOT_INHIBITED = 0x10;

    private static final int CONTROL_KEYBOARD_INTERRUPT = 0x01;
    private static final int CONTROL_SYSTEM_FLAG = 0x04;
    private static final int CONTROL_KEYBOARD_DISABLED = 0x10;
    /** The controller translates the keyboard's set 2 scancodes to set 1. */
    private static final int CONTROL_TRANSLATE = 0x40;

    private static final int OUTPUT_PORT_RESET_RELEASED = 0x01; // clear holds the CPU in reset
    private static final int OUTPUT_PORT_A20 = 0x02;

    private static final int READ_COMMAND_BYTE = 0x20;
    private static final int WRITE_COMMAND_BYTE = 0x60;
    private static final int DISABLE_AUX = 0xa7;
    private static final int ENABLE_AUX = 0xa8;
    private static final int TEST_AUX_PORT = 0xa9;
    private static final int SELF_TEST = 0xaa;
    private static final int TEST_KEYBOARD_PORT = 0xab;
    private static final int DISABLE_KEYBOARD = 0xad;
    private static final int ENABLE_KEYBOARD = 0xae;
    private static final int READ_OUTPUT_PORT = 0xd0;
    private static final int WRITE_OUTPUT_PORT = 0xd1;
    /** 0xF0-0xFF pulse output-port lines low: a clear bit in the low nibble pulses that line. */
    private static final int PULSE_OUTPUT_PORT = 0xf0;
    private static final int NO_COMMAND = -1;

    private static final int SELF_TEST_PASSED = 0x55;
    private static final int PORT_TEST_PASSED = 0x00;
    private static final int KEYBOARD_ACK = 0xfa;
    /** The real controller's output buffer holds one byte; a few more do no harm. */
    private static final int OUTPUT_CAPACITY = 16;

    // Ctrl+Alt+Del (the Delete of the editing block, E0-prefixed), make codes then break codes in reverse.
    private static final int[] CTRL_ALT_DEL_SET2 = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14};
    private static final int[] CTRL_ALT_DEL_SET1 = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};

    private final PowerControl power;
    private final InterruptLine keyboardInterrupt;
    private final ArrayDeque<Integer> output = new ArrayDeque<>(OUTPUT_CAPACITY);
    private final BusDevice dataPort = new DataPort();
    private final BusDevice statusCommandPort = new StatusCommandPort();

    private int commandByte = CONTROL_KEYBOARD_INTERRUPT | CONTROL_SYSTEM_FLAG;
    private int outputPort = OUTPUT_PORT_RESET_RELEASED | OUTPUT_PORT_A20;
    /** A command waiting for its parameter byte on the data port. */
    private int awaitingParameter = NO_COMMAND;
    private boolean lastWriteWasCommand;
    private boolean resetRequested;

    /** {@code keyboardInterrupt} is IRQ 1's line (edge-triggered, so it is pulsed); may be NONE. */
    public I8042(PowerControl power, InterruptLine keyboardInterrupt) {
        this.power = Objects.requireNonNull(power, "power");
        this.keyboardInterrupt = Objects.requireNonNull(keyboardInterrupt, "keyboardInterrupt");
    }

    /** The device for {@link #DATA_PORT}. */
    public BusDevice dataPort() {
        return dataPort;
    }

    /** The device for {@link #STATUS_COMMAND_PORT}. */
    public BusDevice statusCommandPort() {
        return statusCommandPort;
    }

    /** Registers both ports on {@code ioPorts}. */
    public void registerOn(Bus ioPorts) {
        ioPorts.register(DATA_PORT, dataPort);
        ioPorts.register(STATUS_COMMAND_PORT, statusCommandPort);
    }

    private synchronized int readStatus() {
        int status = STATUS_KEYBOARD_NOT_INHIBITED;
        if (!output.isEmpty()) {
            status |= STATUS_OUTPUT_FULL;
        }
        if ((commandByte & CONTROL_SYSTEM_FLAG) != 0) {
            status |= STATUS_SYSTEM_FLAG;
        }
        if (lastWriteWasCommand) {
            status |= STATUS_LAST_WRITE_WAS_COMMAND;
        }
        return status;
    }

    /**
     * One byte per read, as the real output buffer holds one; while more wait behind it, each read
     * raises the keyboard interrupt again, since Linux's handler takes one byte per interrupt.
     */
    private synchronized int readData() {
        Integer next = output.poll();
        if (!output.isEmpty()) {
            interruptIfEnabled();
        }
        return next == null ? 0 : next;
    }

    /**
     * Presses and releases Ctrl+Alt+Del: queues the scancodes for the guest and raises the keyboard
     * interrupt (if the command byte enables it). Returns false, queueing nothing, when the output
     * buffer has no room for the whole sequence (a guest that is not reading its keyboard).
     */
    public synchronized boolean sendCtrlAltDel() {
        int[] codes = (commandByte & CONTROL_TRANSLATE) != 0 ? CTRL_ALT_DEL_SET1 : CTRL_ALT_DEL_SET2;
        if (OUTPUT_CAPACITY - output.size() < codes.length) {
            return false;
        }
        boolean wasEmpty = output.isEmpty();
        for (int code : codes) {
            output.add(code);
        }
        if (wasEmpty) {
            interruptIfEnabled();
        }
        return true;
    }

    /**
     * The command byte, output port, pending output bytes, a command waiting for its parameter, the
     * last-write-was-command flag and a reset already requested.
     */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putInt("commandByte", commandByte)
                .putInt("outputPort", outputPort)
                .putInt("awaitingParameter", awaitingParameter)
                .putBoolean("lastWriteWasCommand", lastWriteWasCommand)
                .putBoolean("resetRequested", resetRequested);
        byte[] bytes = new byte[output.size()];
        int i = 0;
        for (int value : output) {
            bytes[i++] = (byte) value;
        }
        out.putBytes("output", bytes);
    }

    /**
     * Restores a fresh controller; every field is checked before any is set. The keyboard interrupt is
     * an edge and is not raised again: an unread byte the guest was told of is still there to read.
     */
    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        int newCommandByte = in.getInt("commandByte", 0, 0xff);
        int newOutputPort = in.getInt("outputPort", 0, 0xff);
        int newAwaiting = in.getInt("awaitingParameter", NO_COMMAND, 0xff);
        if (newAwaiting != NO_COMMAND && newAwaiting != WRITE_COMMAND_BYTE && newAwaiting != WRITE_OUTPUT_PORT) {
            throw new SnapshotException(String.format("snapshot field %s is 0x%x, not a command that takes a parameter",
                    name(in, "awaitingParameter"), newAwaiting));
        }
        boolean newLastWriteWasCommand = in.getBoolean("lastWriteWasCommand");
        boolean newResetRequested = in.getBoolean("resetRequested");
        byte[] bytes = in.getBytes("output");
        if (bytes.length > OUTPUT_CAPACITY) {
            throw new SnapshotException("snapshot field " + name(in, "output") + " holds " + bytes.length
                    + " bytes, more than the controller's " + OUTPUT_CAPACITY);
        }
        commandByte = newCommandByte;
        outputPort = newOutputPort;
        awaitingParameter = newAwaiting;
        lastWriteWasCommand = newLastWriteWasCommand;
        resetRequested = newResetRequested;
        output.clear();
        for (byte value : bytes) {
            output.add(Byte.toUnsignedInt(value));
        }
    }

    private static String name(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }

    private void interruptIfEnabled() {
        if ((commandByte & CONTROL_KEYBOARD_INTERRUPT) != 0) {
            keyboardInterrupt.pulse();
        }
    }

    /** Returns whether the command asked for a reset the VMM has not been told of yet. */
    private synchronized boolean writeCommand(int command) {
        lastWriteWasCommand = true;
        awaitingParameter = NO_COMMAND; // a new command abandons one still waiting for its parameter
        switch (command) {
            case READ_COMMAND_BYTE -> respond(commandByte);
            case WRITE_COMMAND_BYTE, WRITE_OUTPUT_PORT -> awaitingParameter = command;
            case DISABLE_AUX, ENABLE_AUX -> {} // no AUX port; see the class comment
            case TEST_AUX_PORT, TEST_KEYBOARD_PORT -> respond(PORT_TEST_PASSED);
            case SELF_TEST -> respond(SELF_TEST_PASSED);
            case DISABLE_KEYBOARD -> commandByte |= CONTROL_KEYBOARD_DISABLED;
            case ENABLE_KEYBOARD -> commandByte &= ~CONTROL_KEYBOARD_DISABLED;
            case READ_OUTPUT_PORT -> respond(outputPort);
            default -> {
                boolean pulsesResetLine = (command & 0xf0) == PULSE_OUTPUT_PORT
                        && (command & OUTPUT_PORT_RESET_RELEASED) == 0;
                if (pulsesResetLine) {
                    return requestReset();
                }
                // any other command: ignored, as Firecracker does
            }
        }
        return false;
    }

    /** Returns whether the byte asked for a reset the VMM has not been told of yet. */
    private synchronized boolean writeData(int value) {
        lastWriteWasCommand = false;
        int command = awaitingParameter;
        awaitingParameter = NO_COMMAND;
        switch (command) {
            case WRITE_COMMAND_BYTE -> commandByte = value;
            case WRITE_OUTPUT_PORT -> {
                outputPort = value;
                if ((value & OUTPUT_PORT_RESET_RELEASED) == 0) {
                    return requestReset();
                }
            }
            default -> acknowledgeKeyboardByte();
        }
        return false;
    }

    /** A controller reply replaces anything unread, so the guest never takes a stale byte for it. */
    private void respond(int value) {
        output.clear();
        output.add(value);
    }

    private void acknowledgeKeyboardByte() {
        respond(KEYBOARD_ACK);
        interruptIfEnabled();
    }

    /**
     * Latches the reset: the machine is going down, and Linux writes 0xFE up to ten times before giving
     * up, so the VMM hears of it once.
     */
    private boolean requestReset() {
        if (resetRequested) {
            return false;
        }
        resetRequested = true;
        return true;
    }

    // PowerControl is called outside the lock: the VMM may stop vCPUs that are waiting for it.
    private void resetIf(boolean requested) {
        if (requested) {
            power.reset();
        }
    }

    private final class DataPort implements ByteRegisters {
        @Override
        public int readRegister(long offset) {
            return readData();
        }

        @Override
        public void writeRegister(long offset, int value) {
            resetIf(writeData(value));
        }
    }

    private final class StatusCommandPort implements ByteRegisters {
        @Override
        public int readRegister(long offset) {
            return readStatus();
        }

        @Override
        public void writeRegister(long offset, int value) {
            resetIf(writeCommand(value));
        }
    }
}
