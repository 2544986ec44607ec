package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * The local APIC timer's counting: one-shot and periodic modes count bus ticks ({@link #BUS_HZ} divided
 * by the divide configuration) down from the initial count; TSC-deadline mode fires when the TSC reaches
 * IA32_TSC_DEADLINE. Nothing is stepped: counts and expiry times are computed from VM time.
 *
 * <p>Like KVM, changing the mode stops the timer, and a periodic timer never fires more often than every
 * {@link #MIN_PERIOD_NANOS}, so a guest cannot starve the interpreter with interrupts. vCPU thread only.
 */
final class ApicTimer {
    /** The APIC bus (timer input) frequency: 1 GHz, KVM's, and the core crystal CPUID leaf 0x15 reports. */
    static final long BUS_HZ = 1_000_000_000L;
    static final long NEVER = Long.MAX_VALUE;
    static final long MIN_PERIOD_NANOS = 100_000;
    private static final long NANOS_PER_BUS_TICK = 1_000_000_000L / BUS_HZ;

    enum Mode { ONE_SHOT, PERIODIC, TSC_DEADLINE }

    private final Tsc tsc;
    private Mode mode = Mode.ONE_SHOT;
    private int divideConfiguration;
    private long initialCount;
    private long startNanos;
    private long expiry = NEVER;
    private long deadline;

    ApicTimer(Tsc tsc) {
        this.tsc = tsc;
    }

    Mode mode() {
        return mode;
    }

    void setMode(Mode newMode) {
        if (newMode != mode) {
            mode = newMode;
            initialCount = 0;
            deadline = 0;
            expiry = NEVER;
        }
    }

    /** Divide configuration register: bits 0, 1 and 3 select 2, 4, 8, 16, 32, 64, 128 or 1. */
    int divideConfiguration() {
        return divideConfiguration;
    }

    void setDivideConfiguration(int value, long now) {
        long remaining = currentCount(now);
        divideConfiguration = value & 0xb;
        if (mode != Mode.TSC_DEADLINE && expiry != NEVER) {
            // Keep the current count and let it run on at the new rate.
            startNanos = now - (initialCount - remaining) * tickNanos();
            expiry = now + remaining * tickNanos();
        }
    }

    private long tickNanos() {
        int code = (divideConfiguration & 3) | ((divideConfiguration & 8) >>> 1);
        return (code == 7 ? 1 : 2L << code) * NANOS_PER_BUS_TICK;
    }

    long initialCount() {
        return initialCount;
    }

    /** Starts (or with 0 stops) one-shot or periodic counting; ignored in TSC-deadline mode. */
    void setInitialCount(long count, long now) {
        if (mode == Mode.TSC_DEADLINE) {
            return;
        }
        initialCount = count & 0xffff_ffffL;
        startNanos = now;
        expiry = initialCount == 0 ? NEVER : now + period();
    }

    private long period() {
        long nanos = initialCount * tickNanos();
        return mode == Mode.PERIODIC ? Math.max(nanos, MIN_PERIOD_NANOS) : nanos;
    }

    long currentCount(long now) {
        if (mode == Mode.TSC_DEADLINE || initialCount == 0) {
            return 0;
        }
        long elapsed = (now - startNanos) / tickNanos();
        if (mode == Mode.PERIODIC) {
            return initialCount - elapsed % initialCount;
        }
        return Math.max(0, initialCount - elapsed);
    }

    /** IA32_TSC_DEADLINE: reads 0 outside TSC-deadline mode and once the deadline has passed. */
    long deadline() {
        return mode == Mode.TSC_DEADLINE ? deadline : 0;
    }

    /** Arms (or with 0 disarms) the deadline; ignored outside TSC-deadline mode. */
    void setDeadline(long value) {
        if (mode == Mode.TSC_DEADLINE) {
            deadline = value;
            expiry = value == 0 ? NEVER : tsc.nanosWhen(value);
        }
    }

    /** The guest moved the TSC: an armed deadline now falls at another VM time. */
    void tscChanged() {
        if (mode == Mode.TSC_DEADLINE && deadline != 0) {
            expiry = tsc.nanosWhen(deadline);
        }
    }

    /** The VM time of the next expiry, or {@link #NEVER}. */
    long expiry() {
        return expiry;
    }

    /**
     * Whether the timer expired at or before {@code now}; if so a periodic timer is re-armed for its next
     * period after {@code now} (periods missed while the vCPU was busy coalesce), the others stop.
     */
    boolean expire(long now) {
        if (now < expiry) {
            return false;
        }
        if (mode == Mode.PERIODIC) {
            long period = period();
            expiry = startNanos + ((now - startNanos) / period + 1) * period;
        } else {
            expiry = NEVER;
            deadline = 0;
        }
        return true;
    }

    // ---- snapshot ----

    /**
     * The counting state at VM time {@code now}. The mode is not written: it is the LVT timer entry's,
     * which the local APIC saves, and {@link #restoreState} takes it from there so the two cannot disagree.
     */
    void saveState(StateWriter out, long now) {
        out.putLong("divide_configuration", divideConfiguration);
        out.putLong("initial_count", initialCount);
        SnapshotFields.putSince(out, "started_ago_nanos", startNanos, now);
        SnapshotFields.putUntil(out, "expires_in_nanos", expiry, now);
        out.putLong("tsc_deadline", deadline);
    }

    /** Restores what {@link #saveState} wrote, in {@code newMode}; checks what the modes allow. */
    void restoreState(StateReader in, Mode newMode, long now) throws SnapshotException {
        int divide = (int) SnapshotFields.bits(in, "divide_configuration", 0xb);
        long initial = in.getLong("initial_count", 0, 0xffff_ffffL);
        long start = SnapshotFields.getSince(in, "started_ago_nanos", now);
        long expiresAt = SnapshotFields.getUntil(in, "expires_in_nanos", now);
        long deadlineValue = in.getLong("tsc_deadline");
        if (newMode == Mode.TSC_DEADLINE) {
            if (initial != 0) {
                throw SnapshotFields.invalid(in, "initial_count", initial + " in TSC-deadline mode, where it is always 0");
            }
            if ((deadlineValue == 0) != (expiresAt == NEVER)) {
                throw SnapshotFields.invalid(in, "expires_in_nanos", "inconsistent with tsc_deadline " + deadlineValue
                        + " (a deadline is armed exactly when it has an expiry)");
            }
        } else {
            if (deadlineValue != 0) {
                throw SnapshotFields.invalid(in, "tsc_deadline", deadlineValue + " outside TSC-deadline mode, where it is always 0");
            }
            if (initial == 0 && expiresAt != NEVER) {
                throw SnapshotFields.invalid(in, "expires_in_nanos", "set while initial_count is 0 (a stopped timer never expires)");
            }
        }
        mode = newMode;
        divideConfiguration = divide;
        initialCount = initial;
        startNanos = start;
        expiry = expiresAt;
        deadline = deadlineValue;
    }
}
