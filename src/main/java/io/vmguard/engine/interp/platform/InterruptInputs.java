package io.vmguard.engine.interp.platform;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The 24 global system interrupt inputs as devices drive them, from any thread. The interrupt
 * controllers themselves belong to the vCPU thread; this is the hand-over between the two.
 *
 * <p>One {@link AtomicLong} holds every line's level (bits 0-23) and whether it rose since the vCPU last
 * looked (bits 32-55), so the vCPU takes both in one atomic snapshot. Remembering rises means a
 * {@code pulse()} (set true, set false) from a device thread is never lost between two looks, which an
 * edge-triggered PIC or I/O APIC input needs.
 */
public final class InterruptInputs {
    public static final int COUNT = 24;
    private static final long LEVELS = (1L << COUNT) - 1;

    /** Receives the line changes, in an order that keeps every edge. */
    @FunctionalInterface
    interface Sink {
        void set(int gsi, boolean level);
    }

    private final AtomicLong state = new AtomicLong();
    private final Runnable wake;
    /** vCPU thread only: the levels last handed to the controllers. */
    private long applied;

    /** {@code wake} is run (on the device's thread) after every change, to get the vCPU's attention. */
    public InterruptInputs(Runnable wake) {
        this.wake = wake;
    }

    /** Drives line {@code gsi}; any thread. */
    public void set(int gsi, boolean asserted) {
        if (gsi < 0 || gsi >= COUNT) {
            throw new IllegalArgumentException("no interrupt line " + gsi + " (0-" + (COUNT - 1) + ")");
        }
        long bit = 1L << gsi;
        long current;
        long next;
        do {
            current = state.get();
            if (asserted) {
                next = (current & bit) != 0 ? current : current | bit | (bit << 32);
            } else {
                next = current & ~bit;
            }
        } while (next != current && !state.compareAndSet(current, next));
        if (next != current) {
            wake.run();
        }
    }

    /** Whether a change waits to be drained (cheap: one volatile read). */
    boolean changed() {
        return state.get() != applied;
    }

    /** vCPU thread: hands every change since the last drain to {@code sink}. */
    void drain(Sink sink) {
        long snapshot = state.get();
        if (snapshot == applied) {
            return;
        }
        while (!state.compareAndSet(snapshot, snapshot & LEVELS)) {
            snapshot = state.get();
        }
        long levels = snapshot & LEVELS;
        long rises = snapshot >>> 32;
        long touched = (levels ^ applied) | rises;
        while (touched != 0) {
            int gsi = Long.numberOfTrailingZeros(touched);
            touched &= touched - 1;
            long bit = 1L << gsi;
            boolean was = (applied & bit) != 0;
            boolean now = (levels & bit) != 0;
            if ((rises & bit) != 0) {
                // It rose at least once since the last look: make sure the controller sees a rising edge.
                if (was) {
                    sink.set(gsi, false);
                }
                sink.set(gsi, true);
                if (!now) {
                    sink.set(gsi, false);
                }
            } else {
                sink.set(gsi, now);
            }
        }
        applied = levels;
    }
}
