package io.vmguard.sched;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.IOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Applies a {@link SchedulingPolicy} to the threads of this process by their role, and keeps applying it to
 * threads that start later (a device's I/O thread, the vCPUs), found by a look at /proc/self/task every
 * {@link #RESCAN}: no thread needs to know about scheduling, only to carry a name of its role.
 *
 * <p>The first pass runs in {@link #start} and fails loudly (a nice below the current one without
 * CAP_SYS_NICE, a CPU the process may not use): a mistake on the command line stops the run at once. A
 * later failure (a thread that ended while being placed is no failure) is said once on stderr.
 */
public final class ThreadPlacer implements AutoCloseable {
    static final Duration RESCAN = Duration.ofMillis(500);
    private final SchedulingPolicy policy;
    private final long pid = ProcessHandle.current().pid();
    /** Thread ids already placed; the rescan thread's own after start. */
    private final Set<Integer> placed = new HashSet<>();
    private final AtomicBoolean complained = new AtomicBoolean();
    private volatile boolean closed;
    private Thread rescanner;

    public ThreadPlacer(SchedulingPolicy policy) {
        this.policy = policy;
    }

    /** Places every thread there is now, then starts the rescans; throws with a one-line reason. */
    public synchronized void start() throws NativeException, IOException {
        if (policy.isEmpty() || rescanner != null) {
            return;
        }
        placeNew();
        rescanner = Thread.ofPlatform().name("sched-placer").daemon().start(this::rescanLoop);
    }

    /** Places the threads not placed yet (as the next rescan would, but now); returns how many it placed. */
    public synchronized int placeNew() throws NativeException, IOException {
        if (policy.isEmpty()) {
            return 0;
        }
        int count = 0;
        for (HostThread thread : ProcTasks.list(pid)) {
            if (placed.add(thread.tid())) {
                try {
                    place(thread.tid(), policy.forRole(thread.role()));
                    count++;
                } catch (NativeException e) {
                    if (e.errno() != Libc.ESRCH) {
                        placed.remove(thread.tid());
                        throw e;
                    }
                }
            }
        }
        return count;
    }

    /** Asks the host for {@code wanted} on thread {@code tid}. */
    public static void place(int tid, ThreadPolicy wanted) throws NativeException {
        if (wanted.schedClass().isPresent()) {
            int nice = wanted.nice().isPresent() ? wanted.nice().get() : Libc.getNice(tid);
            Libc.schedSetattr(tid, wanted.schedClass().get().policy(), nice);
        } else if (wanted.nice().isPresent()) {
            Libc.setNice(tid, wanted.nice().get());
        }
        if (wanted.affinity().isPresent()) {
            Libc.schedSetaffinity(tid, wanted.affinity().get().cpus());
        }
    }

    private void rescanLoop() {
        while (!closed) {
            try {
                Thread.sleep(RESCAN);
                placeNew();
            } catch (InterruptedException e) {
                return;
            } catch (NativeException | IOException e) {
                if (complained.compareAndSet(false, true)) {
                    System.err.println("vmguard: cannot place a new thread as asked (" + policy + "): " + e.getMessage());
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        Thread thread;
        synchronized (this) {
            thread = rescanner;
        }
        if (thread != null) {
            thread.interrupt();
        }
    }
}
