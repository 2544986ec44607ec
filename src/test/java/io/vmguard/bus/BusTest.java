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
            assertFalse(bus.write(0xfc, data));
        }
        assertTrue(device.accesses.isEmpty());
    }

    @Test
    void anAccessAcrossTheEndOfADeviceIsSplitAndEachPartGoesToItsOwner() {
        Bus bus = new Bus("test");
        RecordingDevice low = new RecordingDevice();
        RecordingDevice high = new RecordingDevice();
        bus.register(new BusRange(0x100, 4), low);
        bus.register(new BusRange(0x106, 2), high);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(8);
            data.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1122_3344_5566_7788L);
            // [0x102, 0x10a): two bytes of low, two unowned, two of high, two unowned.
            assertTrue(bus.write(0x102, data));
            assertTrue(bus.read(0x102, data));
            assertEquals(0xffffL, data.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2) & 0xffffL);
            assertEquals(0xffffL, data.get(ValueLayout.JAVA_SHORT_UNALIGNED, 6) & 0xffffL);
        }
        assertEquals(List.of("write 2=" + (byte) 0x88, "read 2/2"), low.accesses);
        assertEquals(List.of("write 0=" + (byte) 0x44, "read 0/2"), high.accesses);
    }

    @Test
    void anUnalignedOrOddSizedAccessInsideOneDeviceReachesItAsAlignedPieces() {
        Bus bus = new Bus("test");
        RecordingDevice device = new RecordingDevice();
        bus.register(new BusRange(0x1000, 0x100), device);
        try (Arena arena = Arena.ofConfined()) {
            assertTrue(bus.read(0x1002, arena.allocate(4)), "unaligned dword");
            assertTrue(bus.write(0x1005, arena.allocate(3)), "three bytes, as KVM hands out a page-crossing fragment");
        }
        assertEquals(List.of("read 2/2", "read 4/2", "write 5=0", "write 6=0"), device.accesses);
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
