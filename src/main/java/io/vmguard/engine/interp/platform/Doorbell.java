package io.vmguard.engine.interp.platform;

import java.util.concurrent.locks.LockSupport;

/**
 * How other threads get a vCPU's attention: an interrupt line changed, or an exit was requested. The
 * vCPU checks {@link #rung()} (one volatile read) between instructions and parks in {@link #await}
 * while halted; {@link #ring()} unparks it.
 *
 * <p>No lost wake-ups: the ringer writes {@code rung} before it reads {@code sleeper}, and the sleeper
 * writes {@code sleeper} before it reads {@code rung}. Both are volatile, so at least one of them sees
 * the other's write: either the sleeper sees the bell and does not park, or the ringer sees the sleeper
 * and unparks it (a permit given before the park makes the park return at once).
 */
public final class Doorbell {
    private volatile boolean rung;
    private volatile Thread sleeper;

    /** Any thread. */
    public void ring() {
        rung = true;
        Thread thread = sleeper;
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    /**
     * Any thread: sets the bell without waking a parked vCPU, for news it needs before its next block only (code a
     * device wrote, pages that newly hold code): a running vCPU's compiled loops and chains see it on their one look.
     */
    public void flag() {
        rung = true;
    }

    public boolean rung() {
        return rung;
    }

    /** The vCPU thread, before it looks at what may have rung the bell. */
    public void clear() {
        rung = false;
    }

    /**
     * Blocks the calling thread until the bell rings, {@code timeoutNanos} pass ({@link Long#MAX_VALUE}:
     * no limit) or the thread is interrupted.
     */
    public void await(long timeoutNanos) {
        if (timeoutNanos <= 0) {
            return;
        }
        Thread self = Thread.currentThread();
        sleeper = self;
        try {
            long start = System.nanoTime();
            while (!rung && !self.isInterrupted()) {
                if (timeoutNanos == Long.MAX_VALUE) {
                    LockSupport.park(this);
                } else {
                    long left = timeoutNanos - (System.nanoTime() - start);
                    if (left <= 0) {
                        return;
                    }
                    LockSupport.parkNanos(this, left);
                }
            }
        } finally {
            sleeper = null;
        }
    }
}
