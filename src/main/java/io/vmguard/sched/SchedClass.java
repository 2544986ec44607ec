package io.vmguard.sched;

import io.vmguard.sys.Libc;
import java.util.Locale;

/**
 * The host scheduling classes vmguard puts a thread in (sched(7)): normal time sharing, SCHED_BATCH (the
 * scheduler assumes a CPU-bound thread and does not let it preempt on wake-up) and SCHED_IDLE (runs only
 * on a CPU that has nothing else to run, below nice 19). None needs privileges.
 */
public enum SchedClass {
    NORMAL(Libc.SCHED_OTHER), BATCH(Libc.SCHED_BATCH), IDLE(Libc.SCHED_IDLE);

    private final int policy;

    SchedClass(int policy) {
        this.policy = policy;
    }

    int policy() {
        return policy;
    }

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The class of a policy number sched_getattr reports, or null for another (FIFO, RR, DEADLINE). */
    public static SchedClass ofPolicy(int policy) {
        for (SchedClass c : values()) {
            if (c.policy == policy) {
                return c;
            }
        }
        return null;
    }

    public static SchedClass fromWord(String word) {
        for (SchedClass c : values()) {
            if (c.word().equals(word)) {
                return c;
            }
        }
        throw new IllegalArgumentException("scheduling class '" + word + "' is not normal, batch or idle");
    }
}
