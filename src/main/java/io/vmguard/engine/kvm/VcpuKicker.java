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
    private boolean closed;
    private long runningThread;

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
     * cleared). False for an EINTR nobody asked for (another signal reached the thread: the JVM's own,
     * a profiler's), which the caller retries. A request still pending after an ordinary exit stays set
     * and stops the next KVM_RUN.
     */
    boolean leave(boolean interrupted) {
        synchronized (lock) {
            inRun = false;
            if (interrupted && requested) {
                requested = false;
                if (!closed) {
                    KvmRunLayout.setImmediateExit(run, false);
                }
                return true;
            }
            return false;
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
        }
    }
}
