package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.bus.Bus;
import io.vmguard.bus.InterruptLine;
import io.vmguard.devices.PowerControl;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.RecordingLine;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The legacy devices as the VMM drives them: pausing console input, snapshots, Ctrl+Alt+Del. */
@Timeout(value = 10, unit = TimeUnit.SECONDS)
class LegacyDevicesTest {
    private static final int COM1_DATA = 0x3f8;
    private static final int COM1_LSR = 0x3fd;
    private static final int COM1_SCRATCH = 0x3ff;
    private static final int DATA_READY = 0x01;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A VM that is only its interrupt lines, which remember what they were driven to. */
    private static final class Lines implements VirtualMachine {
        final Map<Integer, RecordingLine> lines = new HashMap<>();

        @Override
        public Vcpu createVcpu(int index) throws EngineException {
            throw new EngineException("no vCPUs here");
        }

        @Override
        public synchronized InterruptLine interruptLine(int gsi) {
            return lines.computeIfAbsent(gsi, g -> new RecordingLine());
        }

        @Override
        public void signalMsi(long address, int data) {}

        @Override
        public void close() {}
    }

    private static final PowerControl NO_POWER = new PowerControl() {
        @Override
        public void powerOff(int status) {}

        @Override
        public void reset() {}
    };

    private record Machine(Bus io, Lines vm, LegacyDevices devices) {
        static Machine attach(InputStream input) throws VmException {
            Bus io = new Bus("io");
            Lines vm = new Lines();
            LegacyDevices devices = LegacyDevices.attach(io, vm, new SerialTarget.Streams(input, new ByteArrayOutputStream()), NO_POWER,
                    128L << 20, 1);
            return new Machine(io, vm, devices);
        }

        int inb(int port) {
            byte[] data = new byte[1];
            assertTrue(io.read(port, MemorySegment.ofArray(data)));
            return Byte.toUnsignedInt(data[0]);
        }

        void outb(int port, int value) {
            assertTrue(io.write(port, MemorySegment.ofArray(new byte[] {(byte) value})));
        }
    }

    @Test
    void consoleInputWaitsWhilePausedAndArrivesOnResume() throws Exception {
        PipedOutputStream keyboard = new PipedOutputStream();
        Machine machine = Machine.attach(new PipedInputStream(keyboard));
        try {
            machine.devices.startInput();
            machine.devices.pause();
            keyboard.write("hi".getBytes());
            keyboard.flush();
            Thread.sleep(200);
            assertEquals(0, machine.inb(COM1_LSR) & DATA_READY, "nothing reaches the guest while paused");

            machine.devices.resume();
            while ((machine.inb(COM1_LSR) & DATA_READY) == 0) {
                Thread.sleep(5);
            }
            assertEquals('h', machine.inb(COM1_DATA));
            assertEquals('i', machine.inb(COM1_DATA));
        } finally {
            keyboard.close();
            machine.devices.close();
        }
    }

    @Test
    void aSnapshotCarriesTheUartTheKeyboardControllerTheCmosAndFwCfg() throws Exception {
        Machine original = Machine.attach(InputStream.nullInputStream());
        Machine restored = Machine.attach(InputStream.nullInputStream());
        try {
            original.outb(COM1_SCRATCH, 0x42);
            original.outb(0x70, 0x40);
            original.outb(0x71, 0x99);
            original.outb(0x64, 0xaa); // i8042 self-test: 0x55 unread
            original.outb(0x510, 0x00); // fw_cfg: the signature, one byte read
            original.inb(0x511);
            original.devices.pause();
            StateWriter out = StateWriter.root();
            original.devices.saveState(out);

            restored.devices.restoreState(StateReader.of(JSON.readTree(JSON.writeValueAsString(out.tree()))));

            assertEquals(0x42, restored.inb(COM1_SCRATCH));
            assertEquals(0x99, restored.inb(0x71), "CMOS index 0x40 still selected");
            assertEquals(0x55, restored.inb(0x60));
            assertEquals('E', restored.inb(0x511), "fw_cfg's item and position");
        } finally {
            original.devices.close();
            restored.devices.close();
        }
    }

    @Test
    void ctrlAltDelRaisesIrq1AndTheGuestReadsTheScancodes() throws Exception {
        Machine machine = Machine.attach(InputStream.nullInputStream());
        try {
            assertTrue(machine.devices.sendCtrlAltDel());

            assertEquals(java.util.List.of(true, false), machine.vm.lines.get(1).calls(), "one IRQ 1 edge for the first byte");
            assertEquals(0x01, machine.inb(0x64) & 0x01);
            assertEquals(0x14, machine.inb(0x60), "Ctrl's make code (set 2: the controller does not translate by default)");
        } finally {
            machine.devices.close();
        }
    }
}
