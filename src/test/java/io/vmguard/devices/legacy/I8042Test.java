package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.RecordingLine;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class I8042Test {
    private static final int DATA = 0x60;
    private static final int STATUS_COMMAND = 0x64;
    private static final int OUTPUT_FULL = 0x01;

    private final RecordingPower power = new RecordingPower();
    private final RecordingLine keyboardIrq = new RecordingLine();
    private final PortIo io = new PortIo();

    @BeforeEach
    void registerAtTheRealPorts() {
        new I8042(power, keyboardIrq).registerOn(io.bus);
    }

    @Test
    void claimsPorts0x60And0x64ButNotTheSystemControlPortsBetween() {
        assertTrue(io.claimed(DATA));
        assertTrue(io.claimed(STATUS_COMMAND));
        for (int port = 0x61; port <= 0x63; port++) {
            assertFalse(io.claimed(port), "port 0x" + Integer.toHexString(port));
        }
    }

    @Test
    void resetCommandCallsResetOnce() {
        io.outb(STATUS_COMMAND, 0xfe);
        assertEquals(1, power.resets);
        io.outb(STATUS_COMMAND, 0xfe); // Linux retries while the machine has not gone away
        assertEquals(1, power.resets);
        assertTrue(power.powerOffs.isEmpty());
    }

    @Test
    void selfTestAnswers0x55() {
        assertEquals(0, io.inb(STATUS_COMMAND) & OUTPUT_FULL);
        io.outb(STATUS_COMMAND, 0xaa);
        assertEquals(OUTPUT_FULL, io.inb(STATUS_COMMAND) & OUTPUT_FULL);
        assertEquals(0x55, io.inb(DATA));
        assertEquals(0, io.inb(STATUS_COMMAND) & OUTPUT_FULL);
    }

    @Test
    void portTestsAnswerZero() {
        io.outb(STATUS_COMMAND, 0xab);
        assertEquals(0x00, io.inb(DATA));
        io.outb(STATUS_COMMAND, 0xa9);
        assertEquals(OUTPUT_FULL, io.inb(STATUS_COMMAND) & OUTPUT_FULL);
        assertEquals(0x00, io.inb(DATA));
    }

    @Test
    void commandByteCanBeReadAndWritten() {
        io.outb(STATUS_COMMAND, 0x20);
        assertEquals(0x05, io.inb(DATA));
        io.outb(STATUS_COMMAND, 0x60);
        io.outb(DATA, 0x44);
        io.outb(STATUS_COMMAND, 0x20);
        assertEquals(0x44, io.inb(DATA));
    }

    @Test
    void keyboardDisableAndEnableFlipTheCommandByte() {
        io.outb(STATUS_COMMAND, 0xad);
        io.outb(STATUS_COMMAND, 0x20);
        assertEquals(0x15, io.inb(DATA));
        io.outb(STATUS_COMMAND, 0xae);
        io.outb(STATUS_COMMAND, 0x20);
        assertEquals(0x05, io.inb(DATA));
    }

    @Test
    void auxCommandsChangeNothingSoLinuxFindsNoMouse() {
        io.outb(STATUS_COMMAND, 0xa7);
        assertEquals(0, io.inb(STATUS_COMMAND) & OUTPUT_FULL);
        io.outb(STATUS_COMMAND, 0x20);
        assertEquals(0, io.inb(DATA) & 0x20, "AUX-disabled bit stays clear");
    }

    @Test
    void writingTheOutputPortWithTheResetBitClearResets() {
        io.outb(STATUS_COMMAND, 0xd1);
        io.outb(DATA, 0xdf); // the classic "enable A20" value keeps the CPU running
        assertEquals(0, power.resets);
        io.outb(STATUS_COMMAND, 0xd0);
        assertEquals(0xdf, io.inb(DATA));

        io.outb(STATUS_COMMAND, 0xd1);
        io.outb(DATA, 0xde);
        assertEquals(1, power.resets);
    }

    @Test
    void keyboardBytesAreAcknowledgedWithAnInterrupt() {
        io.outb(DATA, 0xf4); // "enable scanning", to the keyboard
        assertEquals(0xfa, io.inb(DATA));
        assertEquals(List.of(true, false), keyboardIrq.calls());
    }

    @Test
    void keyboardAcknowledgementsAreSilentWithTheInterruptDisabled() {
        io.outb(STATUS_COMMAND, 0x60);
        io.outb(DATA, 0x04);
        io.outb(DATA, 0xf4);
        assertEquals(0xfa, io.inb(DATA));
        assertTrue(keyboardIrq.calls().isEmpty());
    }

    @Test
    void statusTellsWhetherTheLastWriteWasACommand() {
        io.outb(STATUS_COMMAND, 0xae);
        assertEquals(0x08, io.inb(STATUS_COMMAND) & 0x08);
        io.outb(DATA, 0xf4);
        assertEquals(0x00, io.inb(STATUS_COMMAND) & 0x08);
    }
}
