package io.vmguard.vmm;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A sampling profile of where the guest spends host time: a daemon thread reads every vCPU's RIP
 * ({@link io.vmguard.engine.Vcpu#sampleRip}) once per period and counts the addresses; a vCPU whose thread is
 * in the VMM serving a device access (port or MMIO exit) counts as {@link Profile#inDevice} instead. Time, not instructions: a REP string
 * instruction or an MMIO exit weighs what it costs. Bounded: at most {@link #MAX_ADDRESSES} distinct
 * addresses are kept, later new ones count as {@link Profile#dropped}.
 */
public final class GuestProfiler implements AutoCloseable {
    static final int MAX_ADDRESSES = 1 << 20;

    /**
     * The counts: samples per guest RIP, of halted vCPUs, of vCPU threads in the VMM serving a device access,
     * and of new addresses past the bound; and the guest instructions all vCPUs ran in the window, where the
     * engine counts them (a figure a loaded host does not move, unlike the samples).
     */
    public record Profile(Map<Long, Long> samples, long halted, long inDevice, long dropped, Duration period,
                          OptionalLong instructions) {
        public long total() {
            return samples.values().stream().mapToLong(Long::longValue).sum() + halted + inDevice + dropped;
        }
    }

    private final List<VcpuRunner> vcpus;
    private final long periodNanos;
    private final Thread thread;
    private final Map<Long, Long> samples = new HashMap<>();
    private long halted;
    private long inDevice;
    private long dropped;
    private volatile boolean running = true;
    /** Set by {@link #restart}: the sampling thread clears its counts before the next sample. */
    private volatile boolean restartRequested;
    /** The vCPUs' instruction count when the window began (sampling thread; read after it ends). */
    private OptionalLong instructionsAtStart;
    private Profile stopped;

    private GuestProfiler(List<VcpuRunner> vcpus, Duration period) {
        this.vcpus = List.copyOf(vcpus);
        this.periodNanos = period.toNanos();
        this.thread = Thread.ofPlatform().daemon().name("guest-profiler").unstarted(this::sampleUntilClosed);
    }

    /** Starts sampling {@code vcpus} every {@code period} (at least a microsecond). */
    static GuestProfiler start(List<VcpuRunner> vcpus, Duration period) {
        if (period.toNanos() < 1_000) {
            throw new IllegalArgumentException("profile period below a microsecond: " + period);
        }
        GuestProfiler profiler = new GuestProfiler(vcpus, period);
        profiler.instructionsAtStart = profiler.instructions();
        profiler.thread.start();
        return profiler;
    }

    private void sampleUntilClosed() {
        while (running) {
            if (restartRequested) {
                restartRequested = false;
                samples.clear();
                halted = 0;
                inDevice = 0;
                dropped = 0;
                instructionsAtStart = instructions();
            }
            for (VcpuRunner vcpu : vcpus) {
                if (vcpu.inDeviceSince() != 0) {
                    inDevice++;
                } else {
                    record(vcpu.sampleRip());
                }
            }
            LockSupport.parkNanos(periodNanos);
        }
    }

    private void record(OptionalLong rip) {
        if (rip.isEmpty()) {
            halted++;
        } else if (samples.size() < MAX_ADDRESSES || samples.containsKey(rip.getAsLong())) {
            samples.merge(rip.getAsLong(), 1L, Long::sum);
        } else {
            dropped++;
        }
    }

    /** Drops the counts so far: the profile starts over from here (a benchmark window after boot). Any thread. */
    public void restart() {
        restartRequested = true;
    }

    /** Every vCPU's instructions so far, summed; empty where the engine does not count them. */
    private OptionalLong instructions() {
        long total = 0;
        for (VcpuRunner vcpu : vcpus) {
            OptionalLong count = vcpu.instructions();
            if (count.isEmpty()) {
                return OptionalLong.empty();
            }
            total += count.getAsLong();
        }
        return OptionalLong.of(total);
    }

    /** Stops sampling and returns the counts; later calls (the window's end, then the run's) return the same. */
    public synchronized Profile stop() {
        if (stopped != null) {
            return stopped;
        }
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        OptionalLong now = instructions();
        OptionalLong inWindow = now.isPresent() && instructionsAtStart.isPresent()
                ? OptionalLong.of(now.getAsLong() - instructionsAtStart.getAsLong()) : OptionalLong.empty();
        stopped = new Profile(Map.copyOf(samples), halted, inDevice, dropped, Duration.ofNanos(periodNanos), inWindow);
        return stopped;
    }

    @Override
    public void close() {
        stop();
    }
}
