package io.vmguard.virtio;

import io.vmguard.events.GuestLog;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * A device's I/O thread: the vCPU's kick only {@link #kick marks} work and wakes it, and the thread serves
 * the queue, so the vCPU goes back to running the guest while requests are under way (virtio-blk's disk I/O,
 * virtio-net's transmit). Kicks that come while the thread is busy fold into one more round: the work it
 * runs must take everything the queue holds, as a queue's kick handler does anyway.
 *
 * <p>The thread is a named platform thread ({@code io-blk0}, {@code net-tx0}) so that thread dumps and
 * per-thread scheduling data name the device it works for. The work runs the device's usual path: its
 * {@link PauseGate} (pause waits for a round under way; a kick while paused is left to the transport's
 * kick at resume), its lock, and {@link Signal}s sent after the lock; it reports a broken queue through the
 * device's context itself, since no caller is there to hear an exception.
 */
public final class IoThread implements AutoCloseable {
    private final Thread thread;
    private final Runnable work;
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile boolean closed;

    private IoThread(String name, Runnable work) {
        this.work = work;
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::loop);
    }

    /** Starts thread {@code name}, which runs {@code work} once after each batch of kicks. */
    public static IoThread start(String name, Runnable work) {
        IoThread io = new IoThread(name, work);
        io.thread.start();
        return io;
    }

    public String name() {
        return thread.getName();
    }

    /** There is work: the thread runs a round soon (at once if idle, after the current round if busy). Any thread, never blocks. */
    public void kick() {
        if (pending.compareAndSet(false, true)) {
            LockSupport.unpark(thread);
        }
    }

    private void loop() {
        while (!closed) {
            if (!pending.getAndSet(false)) {
                LockSupport.park(this);
                continue;
            }
            try {
                work.run();
            } catch (RuntimeException e) {
                // The work reports its own failures to the driver; this is a bug in it. Keep serving.
                GuestLog.warn("virtio.io-thread", thread.getName() + ": internal error: " + e);
            }
        }
    }

    /** Stops the thread after its current round; waits up to a second for it. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        if (Thread.currentThread() != thread) {
            try {
                thread.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Whether the thread has ended (after {@link #close}). */
    public boolean stopped() {
        return !thread.isAlive();
    }
}
