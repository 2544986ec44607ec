package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExitPortTest {
    private final RecordingPower power = new RecordingPower();

    @Test
    void writingAValueAtPort0xf4PowersOffWithIt() {
        PortIo io = new PortIo();
        io.bus.register(ExitPort.PORT, new ExitPort(power));
        io.outb(0xf4, 7);
        assertEquals(List.of(7), power.powerOffs);
        assertEquals(0, power.resets);
        assertFalse(io.claimed(0xf5));
    }

    @Test
    void readsAsZero() {
        PortIo io = new PortIo();
        io.bus.register(ExitPort.PORT, new ExitPort(power));
        assertEquals(0, io.inb(0xf4));
        assertEquals(List.of(), power.powerOffs);
    }

    @Test
    void aWiderWriteUsesItsLowByte() {
        new ExitPort(power).write(0, MemorySegment.ofArray(new byte[] {(byte) 0xfe, 0x12, 0x34, 0x56}));
        assertEquals(List.of(0xfe), power.powerOffs);
    }
}
