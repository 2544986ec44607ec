package io.vmguard.engine.kvm;

import io.vmguard.sys.Libc;
import java.lang.foreign.MemorySegment;
import java.util.function.IntSupplier;

/**
 * Makes one vCPU's KVM_RUN return on request from any thread.
 *
 * <p>Two halves, because neither covers every moment alone: {@code kvm_run.immediate_exit = 1} makes
 * the next KVM_RUN return EINTR at once (closing the race of a request just before entry), and the
 * {@link KickSignal} sent with pthread_kill interrupts a KVM_RUN already in progress, including one
 * where the guest is halted and the in-kernel LAPIC is waiting for an interrupt.
 *
 * <p>The signal goes only to a thread that is between {@link #enter} and {@link #leave}, checked under
 * the same lock those take, so it is never sent to a thread that has left the run loop (or died, which
 * would make its pthread_t dangling), and never after {@link #close} unmapped kvm_run.
 */
final class VcpuKicker {
    private final MemorySegment run;
    private final int signal;
    private final Object lock = new Object();

    private boolean inRun;
    private boolean requested;
    /** A {@link #bounce} is under way: its immediate_exit is not a request and must not stop the run loop. */
    private boolean bouncing;
    private boolean closed;
    private long runningThread;
    /** How many KVM_RUNs have returned, so {@link #bounce} can wait for the one in progress to end. */
    private long returns;

    /** The last thread to run the vCPU and its pthread_t, so pthread_self is called once per thread. */
    private Thread knownThread;
    private long knownPthread;

    VcpuKicker(MemorySegment run, int signal) {
        this.run = run;
        this.signal = signal;
    }

    /** Called on the vCPU thread just before KVM_RUN. */
    void enter() {
        Thread current = Thread.currentThread();
        if (current != knownThread) {
            knownThread = current;
            knownPthread = Libc.pthreadSelf();
        }
        synchronized (lock) {
            runningThread = knownPthread;
            inRun = true;
        }
    }

    /**
     * Called on the vCPU thread when KVM_RUN has returned; {@code interrupted} says it returned EINTR.
     * Returns true when that was a request being honoured, which is then consumed (immediate_exit
     * cleared). False for an EINTR nobody asked for (a {@link #bounce}, or another signal reached the
     * thread: the JVM's own, a profiler's), which the caller retries. A request still pending after an
     * ordinary exit stays set and stops the next KVM_RUN.
     */
    boolean leave(boolean interrupted) {
        synchronized (lock) {
            inRun = false;
            returns++;
            lock.notifyAll();
            boolean honoured = interrupted && requested;
            if (honoured) {
                requested = false;
            }
            if ((honoured || bouncing) && !closed) {
                KvmRunLayout.setImmediateExit(run, requested);
            }
            bouncing = false;
            return honoured;
        }
    }

    /** From any thread: stop the current KVM_RUN, or the next one. */
    void request() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            requested = true;
            KvmRunLayout.setImmediateExit(run, true);
            if (inRun) {
                // Cannot fail with ESRCH: while inRun holds, the thread is inside run() and alive.
                Libc.pthreadKill(runningThread, signal);
            }
        }
    }

    /**
     * From any thread: when the vCPU is inside KVM_RUN, makes that KVM_RUN return once and waits until it
     * has; the run loop takes the return for an EINTR nobody requested and goes straight back in. Returns at
     * once when the vCPU is not inside KVM_RUN. Whatever KVM was asked to do at the vCPU's next entry (a new
     * MSR filter's intercepts) is thereby done before it runs another guest instruction. KVM_RUN returns
     * promptly on the signal, so the wait is short; it cannot be cut short by interruption, which is kept
     * for the caller.
     */
    void bounce() {
        synchronized (lock) {
            if (closed || !inRun) {
                return;
            }
            long returned = returns;
            bouncing = true;
            // immediate_exit as well as the signal: the signal alone is lost if it lands between enter()
            // and the ioctl, where the handler runs in userspace and KVM_RUN then blocks as usual.
            KvmRunLayout.setImmediateExit(run, true);
            Libc.pthreadKill(runningThread, signal);
            boolean interrupted = false;
            while (returns == returned && !closed) {
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Runs {@code entry}, a KVM_RUN from a thread other than the vCPU's (which must not be in run()),
     * with immediate_exit set so that KVM only finishes a pending I/O instruction and returns; then puts
     * immediate_exit back to what a pending request needs. No signal is involved: the entry is not
     * between {@link #enter} and {@link #leave}, and immediate_exit alone stops it.
     */
    int withImmediateExit(IntSupplier entry) {
        synchronized (lock) {
            KvmRunLayout.setImmediateExit(run, true);
        }
        try {
            return entry.getAsInt();
        } finally {
            synchronized (lock) {
                if (!closed) {
                    KvmRunLayout.setImmediateExit(run, requested);
                }
            }
        }
    }

    /** After this no request touches kvm_run; the caller may unmap it. */
    void close() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }
}
