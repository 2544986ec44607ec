package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The pvclock structures as Linux's kvm-clock driver reads them. */
class KvmClockTest {
    private static final long WALL_AT_START = 1_700_000_000_123_456_789L;

    private final ManualClock clock = new ManualClock(7_000_000);
    private final Tsc tsc = new Tsc(clock);
    private final ByteBuffer ram = ByteBuffer.allocate(0x2000).order(ByteOrder.LITTLE_ENDIAN);
    private final KvmClock kvmClock = new KvmClock(clock, tsc, this::write, () -> WALL_AT_START + clock.nanos());

    private boolean write(long address, int size, long value) {
        if (address < 0 || address + size > ram.capacity()) {
            return false;
        }
        for (int i = 0; i < size; i++) {
            ram.put((int) address + i, (byte) (value >>> (8 * i)));
        }
        return true;
    }

    /** pvclock_clocksource_read, as the guest computes it. */
    private long guestTime(long address, long tscNow) {
        long delta = tscNow - ram.getLong((int) address + 8);
        int shift = ram.get((int) address + 28);
        delta = shift < 0 ? delta >>> -shift : delta << shift;
        long mul = ram.getInt((int) address + 24) & 0xffff_ffffL;
        return ram.getLong((int) address + 16) + Math.unsignedMultiplyHigh(delta, mul << 32);
    }

    @Test
    void systemTimeStructureGivesVmTimeFromTheTsc() {
        tsc.write(123_456_789);
        kvmClock.write(KvmClock.MSR_SYSTEM_TIME_NEW, 0x1000 | 1);
        assertEquals(0x1001, kvmClock.read(KvmClock.MSR_SYSTEM_TIME_NEW));
        assertEquals(2, ram.getInt(0x1000), "version even: the update is complete");
        assertEquals(123_456_789, ram.getLong(0x1008), "tsc_timestamp");
        assertEquals(7_000_000, ram.getLong(0x1010), "system_time: VM time");
        assertEquals(1, ram.get(0x101d) & 1, "PVCLOCK_TSC_STABLE_BIT");

        clock.advance(5_000_000_000L);
        assertEquals(clock.nanos(), guestTime(0x1000, tsc.read()), "one TSC tick is one nanosecond");

        tsc.write(0);
        kvmClock.tscChanged();
        assertEquals(4, ram.getInt(0x1000), "republished with a new version");
        assertEquals(clock.nanos(), guestTime(0x1000, tsc.read()), "still VM time after the guest moved its TSC");
    }

    @Test
    void aDisabledOrMisplacedStructureIsNotWritten() {
        kvmClock.write(KvmClock.MSR_SYSTEM_TIME_NEW, 0x1000);
        assertEquals(0, ram.getInt(0x1000), "bit 0 clear: disabled");
        kvmClock.write(KvmClock.MSR_SYSTEM_TIME_NEW, 0x10_0000 | 1);
        assertFalse(write(0x10_0000, 4, 0), "outside RAM: nothing to write, and no failure");
    }

    @Test
    void wallClockIsTheTimeAtWhichSystemTimeWasZero() {
        clock.advance(2_000_000_000L);
        kvmClock.write(KvmClock.MSR_WALL_CLOCK_NEW, 0x100);
        assertEquals(2, ram.getInt(0x100), "version");
        assertEquals(WALL_AT_START / 1_000_000_000L, ram.getInt(0x104) & 0xffff_ffffL, "seconds");
        assertEquals(WALL_AT_START % 1_000_000_000L, ram.getInt(0x108), "nanoseconds");
    }
}
