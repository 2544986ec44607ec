package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * The guest's time-stamp counter: VM time plus an offset the guest may change by writing IA32_TSC. It
 * runs at {@link #HZ}, one tick per nanosecond, so no scaling is ever needed and kvmclock's
 * multiplier is exact.
 *
 * <p>vCPU thread only.
 */
final class Tsc implements Snapshottable {
    static final long HZ = 1_000_000_000L;

    private final VmClock clock;
    private long offset;

    Tsc(VmClock clock) {
        this.clock = clock;
    }

    long read() {
        return clock.nanos() + offset;
    }

    /** The TSC at VM time {@code nanos}. */
    long at(long nanos) {
        return nanos + offset;
    }

    void write(long value) {
        offset = value - clock.nanos();
    }

    /** The VM time at which the TSC reaches {@code tsc}. */
    long nanosWhen(long tsc) {
        return tsc - offset;
    }

    /**
     * The offset is all there is: with the VM clock continuing from the saved time, the TSC continues from
     * the saved value too. (IA32_TSC_ADJUST is not offered, so there is nothing else.)
     */
    @Override
    public void saveState(StateWriter out) {
        out.putLong("offset", offset);
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        offset = in.getLong("offset");
    }
}
