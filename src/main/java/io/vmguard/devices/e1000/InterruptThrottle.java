package io.vmguard.devices.e1000;

import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Interrupt throttling (8254x manual 13.4.18, ITR): the line goes up when a cause is pending, but no sooner
 * than the interval after it last went up; a timer raises it then. It goes down at once when nothing is
 * pending. The device says what it wants through {@code want}, read under this object's lock so that two
 * threads updating at once cannot leave a stale level: the interval in nanoseconds when a cause is pending,
 * {@link #IDLE} when none is, {@link #HOLD} when no interrupt may be raised now (paused or closing).
 *
 * <p>The line is driven under this lock only; callers must not hold the device's own lock (the device takes
 * it inside {@code want}).
 */
final class InterruptThrottle implements AutoCloseable {
    static final long IDLE = -1;
    static final long HOLD = -2;

    private final LongSupplier want;
    private final Consumer<Boolean> line;
    private final ScheduledExecutorService timer;
    private boolean asserted;
    private long nextAllowed;
    private ScheduledFuture<?> pending;

    InterruptThrottle(LongSupplier want, Consumer<Boolean> line, String name) {
        this.want = want;
        this.line = line;
        this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name(name).daemon().factory());
    }

    /** Brings the line to what the device wants now, within the interval. */
    synchronized void update() {
        long interval = want.getAsLong();
        if (interval == HOLD || (interval != IDLE) == asserted) {
            return;
        }
        if (interval == IDLE) {
            asserted = false;
            line.accept(false);
            return;
        }
        long now = System.nanoTime();
        long wait = nextAllowed - now;
        if (interval == 0 || wait <= 0) {
            asserted = true;
            nextAllowed = now + interval;
            line.accept(true);
        } else if (pending == null || pending.isDone()) {
            try {
                pending = timer.schedule(this::update, wait, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                // closed: no interrupt is due any more
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
