package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.RecordingLine;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Ctrl+Alt+Del from the VMM: the guest reads the keys' make and break codes at port 0x60, one byte per
 * keyboard interrupt (IRQ 1), in set 2 or, when the command byte asks for translation, set 1.
 */
class I8042CtrlAltDelTest {
    private static final int DATA = 0x60;
    private static final int STATUS_COMMAND = 0x64;
    private static final int OUTPUT_FULL = 0x01;

    private final RecordingLine irq1 = new RecordingLine();
    private final I8042 controller = new I8042(new RecordingPower(), irq1);
    private final PortIo io = new PortIo();

    @BeforeEach
    void registerAtTheRealPorts() {
        controller.registerOn(io.bus);
    }

    @Test
    void theKeyboardSendsSet2MakeAndBreakCodesWithAnInterruptPerByte() {
        assertTrue(controller.sendCtrlAltDel());

        assertEquals(List.of(0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14), drain());
        assertEquals(11, pulses(), "one IRQ 1 edge per byte");
        assertFalse(irq1.asserted());
    }

    @Test
    void withTranslationTheGuestReadsSet1Codes() {
        writeCommandByte(0x45); // keyboard interrupt, system flag, translate

        assertTrue(controller.sendCtrlAltDel());

        assertEquals(List.of(0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d), drain());
        assertEquals(8, pulses());
    }

    @Test
    void withTheKeyboardInterruptDisabledTheBytesWaitWithoutAnInterrupt() {
        writeCommandByte(0x04);

        assertTrue(controller.sendCtrlAltDel());

        assertEquals(0, pulses());
        assertEquals(OUTPUT_FULL, io.inb(STATUS_COMMAND) & OUTPUT_FULL);
        assertEquals(0x14, io.inb(DATA));
    }

    @Test
    void aSecondPressThatDoesNotFitIsRefusedWhole() {
        assertTrue(controller.sendCtrlAltDel());
        assertFalse(controller.sendCtrlAltDel(), "11 + 11 bytes do not fit in 16");
        assertEquals(11, drain().size());
    }

    private void writeCommandByte(int value) {
        io.outb(STATUS_COMMAND, 0x60);
        io.outb(DATA, value);
    }

    private List<Integer> drain() {
        List<Integer> bytes = new ArrayList<>();
        while ((io.inb(STATUS_COMMAND) & OUTPUT_FULL) != 0) {
            bytes.add(io.inb(DATA));
        }
        return bytes;
    }

    private long pulses() {
        List<Boolean> calls = irq1.calls();
        long rises = calls.stream().filter(level -> level).count();
        assertEquals(calls.size(), 2 * rises, "every rise is followed by a fall: " + calls);
        return rises;
    }
}
