package io.vmguard.vmm;

import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Turns a wedged VMM into an event, a thread dump on stderr and a stop with status 1, never a silent hang.
 * Every {@link #period} it looks for threads deadlocked on monitors or locks
 * ({@link ThreadMXBean#findDeadlockedThreads}), for a vCPU that has been inside one device access for
 * longer than {@link #stuckAfter} (a device waiting on something that never comes), and for a vCPU whose
 * thread keeps running without executing a guest instruction for that long (an engine spinning in a loop
 * of its own; engines that do not count instructions, as KVM, are not watched this way). Any ends the run
 * through {@code stop}. If the orderly shutdown that follows is itself blocked by the wedged threads, the
 * process is halted with status 1 after {@link #GRACE}: a VMM that cannot stop must still exit.
 */
final class Watchdog implements AutoCloseable {
    static final Duration GRACE = Duration.ofSeconds(10);

    private final VmEvents events;
    private final List<VcpuRunner> vcpus;
    private final Consumer<String> stop;
    private final Duration period;
    private final Duration stuckAfter;
    private final Runnable lastResort;
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private Thread thread;
    private volatile boolean closed;
    /** Per vCPU (by position): the instruction count last seen, and when it last changed. */
    private final long[] lastInstructions;
    private final long[] lastProgress;

    /**
     * @param stop       ends the run with a reason (the VM's outcome becomes a failure)
     * @param lastResort what to do when the shutdown is blocked too: the CLI halts the process
     */
    Watchdog(VmEvents events, List<VcpuRunner> vcpus, Consumer<String> stop, Duration period, Duration stuckAfter,
             Runnable lastResort) {
        this.events = events;
        this.vcpus = List.copyOf(vcpus);
        this.stop = stop;
        this.period = period;
        this.stuckAfter = stuckAfter;
        this.lastResort = lastResort;
        this.lastInstructions = new long[this.vcpus.size()];
        this.lastProgress = new long[this.vcpus.size()];
        java.util.Arrays.fill(lastInstructions, -1);
    }

    void start() {
        thread = Thread.ofPlatform().daemon().name("watchdog").start(this::watch);
    }

    private void watch() {
        try {
            while (!closed) {
                Thread.sleep(period);
                String wedged = findWedged();
                if (wedged != null && !closed) {
                    report(wedged);
                    Thread.sleep(GRACE);
                    if (!closed) {
                        System.err.println("vmguard: shutdown blocked by the wedged threads; exiting");
                        lastResort.run();
                    }
                    return;
                }
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    /** What is wedged, in one line, or null. */
    String findWedged() {
        long[] deadlocked = threads.findDeadlockedThreads();
        if (deadlocked != null) {
            String names = Arrays.stream(threads.getThreadInfo(deadlocked))
                    .map(info -> info == null ? "?" : "'" + info.getThreadName() + "'")
                    .collect(Collectors.joining(", "));
            return "deadlock between threads " + names;
        }
        long now = System.nanoTime();
        String limit = String.format(java.util.Locale.ROOT, "%.1f", stuckAfter.toMillis() / 1000.0);
        for (int i = 0; i < vcpus.size(); i++) {
            VcpuRunner vcpu = vcpus.get(i);
            long since = vcpu.inDeviceSince();
            if (since != 0 && now - since > stuckAfter.toNanos()) {
                return "vCPU " + vcpu.index() + " has been inside one device access for over " + limit + " s ("
                        + vcpu.currentExit() + ")";
            }
            if (spinsWithoutProgress(i, vcpu, now)) {
                return "vCPU " + vcpu.index() + " has run for over " + limit + " s without executing a guest instruction";
            }
        }
        return null;
    }

    /**
     * Whether the vCPU's thread is runnable (not parked in HLT, not blocked) while its instruction count has
     * not moved for {@link #stuckAfter}.
     */
    private boolean spinsWithoutProgress(int position, VcpuRunner vcpu, long now) {
        java.util.OptionalLong counted = vcpu.instructions();
        long id = vcpu.threadId();
        if (counted.isEmpty() || id < 0) {
            return false;
        }
        ThreadInfo info = threads.getThreadInfo(id);
        boolean running = info != null && info.getThreadState() == Thread.State.RUNNABLE && vcpu.inDeviceSince() == 0;
        if (!running || counted.getAsLong() != lastInstructions[position]) {
            lastInstructions[position] = counted.getAsLong();
            lastProgress[position] = now;
            return false;
        }
        return now - lastProgress[position] > stuckAfter.toNanos();
    }

    private void report(String wedged) {
        events.emit(Source.VMM, "vmm-wedged", Severity.ALARM, Map.of("reason", wedged));
        StringBuilder dump = new StringBuilder("vmguard: watchdog: " + wedged + "; threads:\n");
        for (ThreadInfo info : threads.dumpAllThreads(true, true)) {
            dump.append(info);
        }
        System.err.print(dump);
        stop.accept("watchdog: " + wedged);
    }

    @Override
    public void close() {
        closed = true;
        if (thread != null) {
            thread.interrupt();
        }
    }
}
