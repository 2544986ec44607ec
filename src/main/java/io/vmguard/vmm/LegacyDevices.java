package io.vmguard.vmm;

import io.vmguard.bus.Bus;
import io.vmguard.devices.PowerControl;
import io.vmguard.devices.legacy.CmosRtc;
import io.vmguard.devices.legacy.ConsoleInput;
import io.vmguard.devices.legacy.ExitPort;
import io.vmguard.devices.legacy.I8042;
import io.vmguard.devices.legacy.Serial8250;
import io.vmguard.engine.VirtualMachine;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The PC devices every vmguard guest has, placed at their standard ports: COM1 (IRQ 4) as the console,
 * the i8042 (its reset line ends the run), the CMOS clock, and vmguard's exit port.
 */
final class LegacyDevices implements AutoCloseable {
    private static final int KEYBOARD_IRQ = 1;

    private final Serial8250 console;
    private final SerialTarget target;
    private final OutputStream sink;
    private ConsoleInput input;

    private LegacyDevices(Serial8250 console, SerialTarget target, OutputStream sink) {
        this.console = console;
        this.target = target;
        this.sink = sink;
    }

    static LegacyDevices attach(Bus io, VirtualMachine machine, SerialTarget target, PowerControl power) throws VmException {
        OutputStream sink = ConsoleStreams.output(target, "serial");
        Serial8250 console = new Serial8250(sink, machine.interruptLine(Serial8250.COM1_IRQ));
        io.register(Serial8250.COM1, console);
        new I8042(power, machine.interruptLine(KEYBOARD_IRQ)).registerOn(io);
        io.register(CmosRtc.PORTS, new CmosRtc());
        io.register(ExitPort.PORT, new ExitPort(power));
        return new LegacyDevices(console, target, sink);
    }

    /** Starts feeding the target's input (the terminal, or a caller's stream) to the guest. */
    void startInput() {
        InputStream source = ConsoleStreams.input(target);
        if (source != null) {
            input = ConsoleInput.start(source, console);
        }
    }

    /** Pushes out whatever the guest wrote; called before the run's result is reported. */
    void flush() {
        try {
            console.flush();
        } catch (IOException e) {
            System.err.println("vmguard: serial output: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        if (input != null) {
            input.close();
        }
        flush();
        ConsoleStreams.close(sink, target, "serial");
    }

    // STUB(lead): replaced by the snapshot work merging in; throws so nothing can mistake it for done.
    void pause() {
        throw new UnsupportedOperationException("pause");
    }

    void resume() {
        throw new UnsupportedOperationException("resume");
    }

    void saveState(io.vmguard.snapshot.StateWriter out) {
        throw new UnsupportedOperationException("snapshot");
    }

    void restoreState(io.vmguard.snapshot.StateReader in) throws io.vmguard.snapshot.SnapshotException {
        throw new io.vmguard.snapshot.SnapshotException("devices cannot be restored yet");
    }

    void sendCtrlAltDel() {
        throw new UnsupportedOperationException("ctrl-alt-del");
    }
}
