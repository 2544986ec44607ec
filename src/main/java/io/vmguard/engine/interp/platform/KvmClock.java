package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.function.LongSupplier;

/**
 * KVM's paravirtual clock (kvmclock), as Linux's {@code kvm-clock} driver uses it: the guest names a
 * {@code pvclock_vcpu_time_info} in its memory with MSR_KVM_SYSTEM_TIME_NEW and a
 * {@code pvclock_wall_clock} with MSR_KVM_WALL_CLOCK_NEW, and the host fills them.
 *
 * <p>Our TSC runs at exactly 1 GHz and counts VM time, so the time info never drifts: it is written when
 * the guest enables it and again when the guest moves the TSC. It says {@code system_time} (ns since
 * the VM started) was VM time at {@code tsc_timestamp}, with a multiplier of 2^31 and a shift of 1
 * (so one tick is one nanosecond), and sets PVCLOCK_TSC_STABLE_BIT. Each update follows the protocol:
 * version made odd, fields written, version made even. vCPU thread only.
 */
final class KvmClock implements Snapshottable {
    static final int MSR_WALL_CLOCK_NEW = 0x4b56_4d00;
    static final int MSR_SYSTEM_TIME_NEW = 0x4b56_4d01;
    static final int TSC_STABLE = 1;
    /** tsc_to_system_mul and tsc_shift for 1 tick = 1 ns: ((tsc << 1) * 2^31) >> 32. */
    static final int MULTIPLIER = 0x8000_0000;
    static final int SHIFT = 1;

    /** Guest-physical writes; false when the address is not RAM (the structure is then not written). */
    @FunctionalInterface
    interface Memory {
        boolean write(long address, int size, long value);
    }

    private final VmClock clock;
    private final Tsc tsc;
    private final Memory memory;
    /** Wall-clock time now, in nanoseconds since the Unix epoch. */
    private final LongSupplier wallNanos;
    private long systemTimeMsr;
    private long wallClockMsr;
    private int timeVersion;
    private int wallVersion;

    KvmClock(VmClock clock, Tsc tsc, Memory memory, LongSupplier wallNanos) {
        this.clock = clock;
        this.tsc = tsc;
        this.memory = memory;
        this.wallNanos = wallNanos;
    }

    static boolean claims(int msr) {
        return msr == MSR_WALL_CLOCK_NEW || msr == MSR_SYSTEM_TIME_NEW;
    }

    long read(int msr) {
        return msr == MSR_SYSTEM_TIME_NEW ? systemTimeMsr : wallClockMsr;
    }

    void write(int msr, long value) {
        if (msr == MSR_SYSTEM_TIME_NEW) {
            systemTimeMsr = value;
            publishTime();
        } else {
            wallClockMsr = value;
            publishWallClock();
        }
    }

    /** The guest wrote IA32_TSC: the (tsc_timestamp, system_time) pair must be taken again. */
    void tscChanged() {
        publishTime();
    }

    private void publishTime() {
        if ((systemTimeMsr & 1) == 0) {
            return;
        }
        long address = systemTimeMsr & ~1L;
        long now = clock.nanos();
        timeVersion += 2;
        if (!memory.write(address, 4, timeVersion - 1)) {
            return;
        }
        memory.write(address + 8, 8, tsc.at(now));                   // tsc_timestamp
        memory.write(address + 16, 8, now);                          // system_time
        memory.write(address + 24, 4, MULTIPLIER & 0xffff_ffffL);    // tsc_to_system_mul
        memory.write(address + 28, 1, SHIFT);                        // tsc_shift
        memory.write(address + 29, 1, TSC_STABLE);                   // flags
        memory.write(address, 4, timeVersion);
    }

    private void publishWallClock() {
        // The wall-clock time at which system_time was zero: the guest adds its kvmclock to it.
        long boot = wallNanos.getAsLong() - clock.nanos();
        wallVersion += 2;
        if (!memory.write(wallClockMsr, 4, wallVersion - 1)) {
            return;
        }
        memory.write(wallClockMsr + 4, 4, boot / 1_000_000_000L);    // sec (u32: good until 2106)
        memory.write(wallClockMsr + 8, 4, boot % 1_000_000_000L);    // nsec
        memory.write(wallClockMsr, 4, wallVersion);
    }

    // ---- snapshot ----

    /**
     * The two MSRs (bit 0 of the system-time one enables it) and the structures' version counters, so the
     * next update after a restore keeps them rising. The structures themselves are in guest memory, which
     * the snapshot holds: with the VM clock and the TSC continuing from their saved values, the (TSC,
     * system time) pair published before still holds and nothing needs writing again. The wall clock's
     * boot time does not move either, so a restored guest's wall clock lags by the time it spent saved
     * until it asks again (or NTP corrects it), as after any paused VM.
     */
    @Override
    public void saveState(StateWriter out) {
        out.putLong("system_time_msr", systemTimeMsr);
        out.putLong("wall_clock_msr", wallClockMsr);
        out.putInt("time_version", timeVersion);
        out.putInt("wall_version", wallVersion);
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        long systemTime = in.getLong("system_time_msr");
        long wallClock = in.getLong("wall_clock_msr");
        int time = in.getInt("time_version");
        int wall = in.getInt("wall_version");
        systemTimeMsr = systemTime;
        wallClockMsr = wallClock;
        timeVersion = time;
        wallVersion = wall;
    }
}
