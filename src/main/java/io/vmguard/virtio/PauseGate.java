package io.vmguard.virtio;

import java.time.Duration;

/**
 * One device's pause switch, with Firecracker's meaning: while paused none of the device's work that
 * touches guest memory or interrupts the guest runs. Each such piece of work (serving a kick, delivering a
 * received frame or console input) runs between {@link #enter} and {@link #exit}, the interrupt it decided
 * on included; {@link #pause} shuts the gate and then waits for the pieces under way, so when it returns
 * the device is quiet and its state can be saved.
 *
 * <p>Work turned away while paused is not lost: the transport kicks every queue again at resume
 * ({@link VirtioControl#resume}), and a device thread holds what it had (a received frame, input bytes)
 * until then.
 *
 * <p>The gate's lock is a leaf: nothing is called while holding it, so it may be taken under any other
 * lock, the device's included. A device thread waiting for the guest inside the gate (e.g. for receive
 * buffers) must look at {@link #closed} in its wait and leave the gate, or pause would wait for it forever.
 */
public final class PauseGate {
    private boolean paused;
    private int working;

    /** Starts a piece of work; false while paused (the work is then the device's to redo at resume). */
    public synchronized boolean enter() {
        if (paused) {
            return false;
        }
        working++;
        return true;
    }

    /** Ends a piece of work started by a successful {@link #enter}. */
    public synchronized void exit() {
        if (--working == 0) {
            notifyAll();
        }
    }

    /** Whether the gate is shut: work under way should wind down and keep what it holds. */
    public synchronized boolean closed() {
        return paused;
    }

    /**
     * Shuts the gate and waits for the work under way to finish. A device whose threads wait inside the gate
     * calls {@link #shut}, wakes them, then {@link #awaitIdle} instead.
     */
    public void pause() {
        shut();
        awaitIdle();
    }

    /** Shuts the gate without waiting. */
    public synchronized void shut() {
        paused = true;
    }

    /** Waits until no work is under way. Not interruptible: pausing half-way would leave the device running. */
    public synchronized void awaitIdle() {
        boolean interrupted = false;
        while (working > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    public synchronized void resume() {
        paused = false;
        notifyAll();
    }

    /**
     * For a device thread with nothing to do while paused: waits up to {@code limit} for the gate to open.
     * Returns whether it is open.
     */
    public synchronized boolean awaitOpen(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (paused) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }
}
