package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.testing.RecordingLine;
import org.junit.jupiter.api.Test;

/** The keyboard controller's command byte, output buffer and half-done commands survive a snapshot. */
class I8042SnapshotTest {
    private static final int DATA = 0x60;
    private static final int STATUS_COMMAND = 0x64;
    private static final int OUTPUT_FULL = 0x01;
    private static final int LAST_WRITE_WAS_COMMAND = 0x08;

    private final PortIo original = new PortIo();
    private final I8042 controller = new I8042(new RecordingPower(), new RecordingLine());

    @Test
    void anUnreadReplyAndTheCommandByteAreThereAfterARestore() throws Exception {
        controller.registerOn(original.bus);
        original.outb(STATUS_COMMAND, 0x60); // write command byte
        original.outb(DATA, 0x07); // keyboard interrupt, AUX interrupt, system flag
        original.outb(STATUS_COMMAND, 0xaa); // self-test: 0x55 waits in the output buffer

        PortIo restored = restoredCopy(controller);

        assertEquals(original.inb(STATUS_COMMAND), restored.inb(STATUS_COMMAND));
        assertEquals(OUTPUT_FULL | LAST_WRITE_WAS_COMMAND, restored.inb(STATUS_COMMAND) & (OUTPUT_FULL | LAST_WRITE_WAS_COMMAND));
        assertEquals(0x55, restored.inb(DATA));
        restored.outb(STATUS_COMMAND, 0x20);
        assertEquals(0x07, restored.inb(DATA), "the command byte");
    }

    @Test
    void aCommandWaitingForItsParameterTakesItAfterARestore() throws Exception {
        controller.registerOn(original.bus);
        original.outb(STATUS_COMMAND, 0xd1); // write output port: the parameter comes next

        RecordingPower power = new RecordingPower();
        I8042 fresh = new I8042(power, new RecordingLine());
        SnapshotJson.copy(controller, fresh);
        PortIo restored = new PortIo();
        fresh.registerOn(restored.bus);
        restored.outb(DATA, 0x02); // reset line held low

        assertEquals(1, power.resets);
    }

    @Test
    void aParameterForACommandThatTakesNoneIsRefused() {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotJson.copyCorrupted(controller,
                tree -> tree.put("awaitingParameter", 0xaa), new I8042(new RecordingPower(), new RecordingLine())));
        assertEquals("snapshot field awaitingParameter is 0xaa, not a command that takes a parameter", e.getMessage());
    }

    @Test
    void moreOutputThanTheControllerHoldsIsRefused() {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotJson.copyCorrupted(controller,
                tree -> tree.put("output", new byte[17]), new I8042(new RecordingPower(), new RecordingLine())));
        assertEquals("snapshot field output holds 17 bytes, more than the controller's 16", e.getMessage());
    }

    @Test
    void aCommandByteOutOfRangeIsRefused() {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotJson.copyCorrupted(controller,
                tree -> tree.put("commandByte", 256), new I8042(new RecordingPower(), new RecordingLine())));
        assertEquals("snapshot field commandByte is 256, outside 0..255", e.getMessage());
    }

    private static PortIo restoredCopy(Snapshottable from) throws Exception {
        I8042 fresh = new I8042(new RecordingPower(), new RecordingLine());
        SnapshotJson.copy(from, fresh);
        PortIo io = new PortIo();
        fresh.registerOn(io.bus);
        return io;
    }
}
