package io.vmguard.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BusTest {
    /** Records accesses and answers reads with its offset. */
    static final class RecordingDevice implements BusDevice {
        final List<String> accesses = new ArrayList<>();

        @Override
        public void read(long offset, MemorySegment data) {
            accesses.add("read " + offset + "/" + data.byteSize());
            data.set(ValueLayout.JAVA_BYTE, 0, (byte) offset);
        }

        @Override
        public void write(long offset, MemorySegment data) {
            accesses.add("write " + offset + "=" + data.get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void dispatchesToTheDeviceWithOffsetsRelativeToItsBase() {
        Bus bus = new Bus("test");
        RecordingDevice uart = new RecordingDevice();
        bus.register(new BusRange(0x3f8, 8), uart);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(1);
            assertTrue(bus.read(0x3fd, data));
            assertEquals(5, data.get(ValueLayout.JAVA_BYTE, 0));
            data.set(ValueLayout.JAVA_BYTE, 0, (byte) 'A');
            assertTrue(bus.write(0x3f8, data));
        }
        assertEquals(List.of("read 5/1", "write 0=65"), uart.accesses);
    }

    @Test
    void unclaimedReadsReturnAllOnesAndWritesAreDropped() {
        Bus bus = new Bus("test");
        RecordingDevice device = new RecordingDevice();
        bus.register(new BusRange(0x100, 4), device);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(4);
            assertFalse(bus.read(0x104, data));
            assertEquals(-1, data.get(ValueLayout.JAVA_INT, 0));
            assertFalse(bus.write(0xff, data));
            // An access that straddles the end of the device's range is not the device's.
            assertFalse(bus.read(0x102, data));
        }
        assertTrue(device.accesses.isEmpty());
    }

    @Test
    void overlappingRegistrationsAreRejected() {
        Bus bus = new Bus("test");
        bus.register(new BusRange(0x1000, 0x100), new RecordingDevice());
        assertThrows(BusOverlapException.class, () -> bus.register(new BusRange(0x10ff, 1), new RecordingDevice()));
        assertThrows(BusOverlapException.class, () -> bus.register(new BusRange(0xf00, 0x101), new RecordingDevice()));
        assertThrows(BusOverlapException.class, () -> bus.register(new BusRange(0x1000, 0x100), new RecordingDevice()));
        assertThrows(BusOverlapException.class, () -> bus.register(new BusRange(0x0, 0x10000), new RecordingDevice()));
        bus.register(new BusRange(0x1100, 0x10), new RecordingDevice());
        bus.register(new BusRange(0xf00, 0x100), new RecordingDevice());
    }

    @Test
    void rangesMustBeNonEmptyAndNotWrap() {
        assertThrows(IllegalArgumentException.class, () -> new BusRange(0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BusRange(Long.MAX_VALUE, 2));
    }
}
