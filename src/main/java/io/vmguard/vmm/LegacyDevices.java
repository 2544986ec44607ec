package io.vmguard.vmm;

import io.vmguard.bus.Bus;
import io.vmguard.devices.PowerControl;
import io.vmguard.devices.legacy.CmosRtc;
import io.vmguard.devices.legacy.ConsoleInput;
import io.vmguard.devices.legacy.ExitPort;
import io.vmguard.devices.legacy.FwCfg;
import io.vmguard.devices.legacy.I8042;
import io.vmguard.devices.legacy.Serial8250;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The PC devices every vmguard guest has, placed at their standard ports: COM1 (IRQ 4) as the console,
 * the i8042 (its reset line ends the run), the CMOS clock, vmguard's exit port, and QEMU's fw_cfg ports
 * (what test kernels read to learn their RAM size and CPU count).
 */
final class LegacyDevices implements AutoCloseable, Snapshottable {
    private static final int KEYBOARD_IRQ = 1;

    private final Serial8250 console;
    private final I8042 keyboardController;
    private final CmosRtc cmos;
    private final FwCfg firmwareConfig;
    private final SerialTarget target;
    private final OutputStream sink;
    private ConsoleInput input;

    private LegacyDevices(Serial8250 console, I8042 keyboardController, CmosRtc cmos, FwCfg firmwareConfig,
                          SerialTarget target, OutputStream sink) {
        this.console = console;
        this.keyboardController = keyboardController;
        this.cmos = cmos;
        this.firmwareConfig = firmwareConfig;
        this.target = target;
        this.sink = sink;
    }

    static LegacyDevices attach(Bus io, VirtualMachine machine, SerialTarget target, PowerControl power, long ramBytes,
                                int cpus) throws VmException {
        OutputStream sink = new ConsoleLineBuffer(ConsoleStreams.output(target, "serial"));
        Serial8250 console = new Serial8250(sink, machine.interruptLine(Serial8250.COM1_IRQ));
        io.register(Serial8250.COM1, console);
        I8042 keyboardController = new I8042(power, machine.interruptLine(KEYBOARD_IRQ));
        keyboardController.registerOn(io);
        CmosRtc cmos = new CmosRtc();
        io.register(CmosRtc.PORTS, cmos);
        io.register(ExitPort.PORT, new ExitPort(power));
        FwCfg firmwareConfig = new FwCfg(ramBytes, cpus);
        io.register(FwCfg.PORTS, firmwareConfig);
        return new LegacyDevices(console, keyboardController, cmos, firmwareConfig, target, sink);
    }

    /**
     * Stops console input reaching the guest while the machine is paused (input that arrives waits in
     * the pump, at most one chunk, and the host's buffers behind it), so that the UART's state and its
     * interrupt line hold still for a snapshot. Call before saving; {@link #resume} undoes it.
     */
    void pause() {
        console.holdInput(true);
    }

    /** Lets console input flow again, starting with whatever waited. */
    void resume() {
        console.holdInput(false);
    }

    /**
     * The API's SendCtrlAltDel: the keyboard controller reports Ctrl+Alt+Del and raises IRQ 1, and a
     * Linux guest reboots (or does what its init makes of it). False when the guest has left so many
     * keyboard bytes unread that the sequence does not fit.
     */
    boolean sendCtrlAltDel() {
        return keyboardController.sendCtrlAltDel();
    }

    /**
     * The UART, the keyboard controller, the CMOS and fw_cfg, as children {@code serial}, {@code i8042},
     * {@code cmos} and {@code fw_cfg}. The exit port has no state. Call while paused.
     */
    @Override
    public void saveState(StateWriter out) {
        out.save("serial", console).save("i8042", keyboardController).save("cmos", cmos).save("fw_cfg", firmwareConfig);
    }

    /** Restores freshly attached devices, before any vCPU runs. */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        in.restore("serial", console);
        in.restore("i8042", keyboardController);
        in.restore("cmos", cmos);
        if (in.has("fw_cfg")) { // snapshots from before fw_cfg have none: its item is rewound, as at boot
            in.restore("fw_cfg", firmwareConfig);
        }
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
}
