package io.vmguard.vmi.integrity;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.vmi.GuestInspector;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.VmiException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Watches a guest kernel's integrity: takes the baseline (by default as soon as init runs), then checks
 * periodically and, where the engine traps, on every watched action before the guest's next instruction.
 * Each violation becomes one {@code vmi} alarm on the event stream when first seen; with
 * {@link Action#PAUSE} the VM is also paused for inspection.
 */
public final class IntegrityMonitor implements AutoCloseable {
    public enum Action { ALERT, PAUSE }

    public enum BaselinePoint { INIT, MANUAL }

    /**
     * @param fullRehashEvery every how many passes all watched pages are hashed again even if no trap said
     *                        they were written (devices write without the vCPU traps, through the IOMMU)
     */
    public record Settings(Duration period, Action action, BaselinePoint baselineAt, int fullRehashEvery) {
        public Settings {
            if (period.toMillis() < 10) {
                throw new IllegalArgumentException("the integrity check period must be at least 10 ms");
            }
        }

        public static Settings defaults() {
            return new Settings(Duration.ofSeconds(1), Action.ALERT, BaselinePoint.INIT, 60);
        }
    }

    /** How the monitor has done so far (the benchmark's and the API's figures). */
    /**
     * @param trapToEventNanos for each trapped violation so far (the latest {@link #LATENCY_SAMPLES}), the time
     *                         from the engine's report to the event handed to the event sink and stream
     */
    /**
     * @param cpuNanos      the monitor thread's CPU time in periodic passes since the baseline
     * @param setupCpuNanos its CPU time before that: finding the kernel (once) and taking the baseline
     * @param heldNanos     how long periodic passes held the vCPUs in all (what the guest lost to them)
     */
    public record Status(boolean baselined, Instant baselineTime, long passes, long trappedEvents, long findings,
                         long lastPassMicros, long cpuNanos, long setupCpuNanos, long heldNanos, Set<TrapKind> traps,
                         String lastError,
                         List<Long> trapToEventNanos) {}

    static final int LATENCY_SAMPLES = 1024;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /** Polling for init before the baseline: faster than the period, so the baseline is early. */
    private static final Duration BASELINE_POLL = Duration.ofMillis(100);

    private final GuestInspector inspector;
    private final Optional<Monitoring> monitoring;
    private final FactsSource source;
    private final VmEvents events;
    private final Runnable pauseVm;
    private final Settings settings;
    private final ScheduledExecutorService timer;

    // Guarded by this.
    private KernelFacts baseline;
    private KernelFacts latest;
    private TrapClassifier classifier;
    private Instant baselineTime;
    private long passes;
    private long lastPassMicros;
    private long cpuNanos;
    private long setupCpuNanos;
    private long heldNanos;
    private String lastError;
    /**
     * The findings reported and still standing, each with the number of its report: a trap may report after a
     * periodic pass took its view, and that pass must not take the finding for gone (it would be reported again).
     */
    private final Map<String, Long> reported = new HashMap<>();
    private long reports;
    private Map<Long, String> processesByRoot = Map.of();
    private long trappedEvents;
    private long findingsReported;
    private final java.util.ArrayDeque<Long> trapLatencies = new java.util.ArrayDeque<>();

    public IntegrityMonitor(GuestInspector inspector, Optional<Monitoring> monitoring, FactsSource source,
                            VmEvents events, Runnable pauseVm, Settings settings) {
        this.inspector = inspector;
        this.monitoring = monitoring;
        this.source = source;
        this.events = events;
        this.pauseVm = pauseVm;
        this.settings = settings;
        this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("vmi-monitor").daemon().factory());
    }

    /** Starts polling: for init (baseline at init), or for the periodic checks once a baseline exists. */
    public void start() {
        timer.schedule(this::tick, BASELINE_POLL.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void tick() {
        long cpuBefore = THREADS.getCurrentThreadCpuTime();
        Duration next = settings.period();
        boolean haveBaseline;
        synchronized (this) {
            haveBaseline = baseline != null;
        }
        try {
            if (haveBaseline) {
                check();
            } else if (settings.baselineAt() == BaselinePoint.INIT) {
                if (inspector.inspect(source::initStarted)) {
                    takeBaseline();
                } else {
                    next = BASELINE_POLL;
                }
            }
        } catch (VmiException e) {
            noteError(e.getMessage());
            next = baselined() ? settings.period() : BASELINE_POLL;
        } catch (RuntimeException e) {
            noteError("monitor failure: " + e);
        } finally {
            synchronized (this) {
                long spent = THREADS.getCurrentThreadCpuTime() - cpuBefore;
                if (haveBaseline) {
                    cpuNanos += spent;
                } else {
                    setupCpuNanos += spent;
                }
            }
        }
        if (!timer.isShutdown()) {
            timer.schedule(this::tick, next.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private synchronized boolean baselined() {
        return baseline != null;
    }

    private synchronized void noteError(String message) {
        if (!message.equals(lastError)) {
            lastError = message;
            events.emit(Source.VMI, "monitor-error", Severity.WARNING, Map.of("error", message));
        }
    }

    /**
     * Takes (or retakes) the baseline now and arms the engine's traps against it. The guest is read without
     * this monitor's lock held: a vCPU reporting a trapped write needs that lock before it can stop.
     */
    public KernelFacts takeBaseline() throws VmiException {
        record Taken(KernelFacts facts, WatchedRegions regions, Map<Long, String> processes) {}
        Taken taken = inspector.inspect(view -> new Taken(source.read(view, null, null), source.regions(view),
                source.processesByRoot(view)));
        synchronized (this) {
            baseline = taken.facts();
            latest = taken.facts();
            baselineTime = Instant.now();
            processesByRoot = taken.processes();
            classifier = new TrapClassifier(baseline, taken.regions(), source.names());
            reported.clear();
            lastError = null;
        }
        monitoring.ifPresent(m -> {
            m.takeWrittenFrames();
            m.arm(plan(taken.regions()), this::trapped);
        });
        events.emit(Source.VMI, "baseline", Severity.INFO, baselineDetails(taken.facts(), taken.regions()));
        return taken.facts();
    }

    private Map<String, Object> baselineDetails(KernelFacts baseline, WatchedRegions regions) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("syscalls", baseline.syscallTable().length);
        details.put("text_pages", baseline.textPages().size());
        details.put("rodata_pages", baseline.rodataPages().size());
        details.put("watched_frames", regions.frames().size());
        details.put("modules", baseline.modules().size());
        details.put("processes", baseline.tasks().size());
        details.put("traps", monitoring.map(m -> m.traps().stream().map(Enum::name).sorted().toList()).orElse(List.of()));
        return details;
    }

    private static MonitorPlan plan(WatchedRegions regions) {
        return new MonitorPlan(regions.frameSet(), Set.of(0, 4), Set.copyOf(Msr.SYSCALL_ENTRY), true, new BitSet(), false);
    }

    /** On a vCPU thread: judge at once, report before the guest's next instruction. */
    private void trapped(MonitorEvent event) {
        long trappedAt = System.nanoTime();
        Finding finding;
        String process;
        synchronized (this) {
            trappedEvents++;
            if (classifier == null) {
                return;
            }
            finding = classifier.classify(event).orElse(null);
            if (finding == null || reported.putIfAbsent(finding.key(), ++reports) != null) {
                return;
            }
            process = processesByRoot.get(event.cr3() & 0x000f_ffff_ffff_f000L);
        }
        if (process == null) {
            process = source.processByRootNow(event.cr3()).orElse(null); // born since the last pass
        }
        report(finding, process);
        synchronized (this) {
            if (trapLatencies.size() == LATENCY_SAMPLES) {
                trapLatencies.removeFirst();
            }
            trapLatencies.addLast(System.nanoTime() - trappedAt);
        }
    }

    /** Runs one periodic pass now and returns everything it found (reported or not before). */
    public List<Finding> check() throws VmiException {
        long started = System.nanoTime();
        KernelFacts base;
        KernelFacts previous;
        long pass;
        synchronized (this) {
            if (baseline == null) {
                throw new VmiException("no baseline yet (the guest's init has not started, or take one first)");
            }
            base = baseline;
            previous = latest;
            pass = ++passes;
        }
        BitSet rehash = null;
        if (pass % settings.fullRehashEvery() != 0 && monitoring.isPresent()
                && monitoring.get().traps().contains(TrapKind.PHYSICAL_WRITE)) {
            rehash = monitoring.get().takeWrittenFrames();
        }
        BitSet pages = rehash;
        record Pass(KernelFacts facts, Map<Long, String> processes, Map<Integer, String> running, long reportsBefore) {}
        Pass result = inspector.inspect(view -> {
            long heldFrom = System.nanoTime();
            KernelFacts facts = source.read(view, pages, previous);
            Map<Integer, String> running = new LinkedHashMap<>();
            view.vcpus().forEach(v -> source.processOf(view, v.index()).ifPresent(p -> running.put(v.index(), p)));
            Map<Long, String> roots = source.processesByRoot(view);
            long reportsBefore;
            synchronized (this) {
                heldNanos += System.nanoTime() - heldFrom;
                reportsBefore = reports; // read while the vCPUs are held: every report up to here is in the view
            }
            return new Pass(facts, roots, running, reportsBefore);
        });
        List<Finding> findings = new IntegrityChecks(source.names()).compare(base, result.facts());
        List<Finding> fresh = new ArrayList<>();
        synchronized (this) {
            latest = result.facts();
            processesByRoot = result.processes();
            Set<String> seen = new HashSet<>();
            for (Finding finding : findings) {
                seen.add(finding.key());
                if (!reported.containsKey(finding.key())) {
                    fresh.add(finding);
                }
            }
            // A violation that went away may come back: it is reported again then. One a trap reported after this
            // pass's view was taken stands: the view predates the write the trap saw.
            reported.entrySet().removeIf(r -> !seen.contains(r.getKey()) && r.getValue() <= result.reportsBefore());
            for (String key : seen) {
                reported.putIfAbsent(key, ++reports);
            }
            lastPassMicros = (System.nanoTime() - started) / 1000;
        }
        for (Finding finding : fresh) {
            report(finding, result.running().get(vcpuOf(finding)));
        }
        return findings;
    }

    private static int vcpuOf(Finding finding) {
        return finding.details().get("vcpu") instanceof Integer index ? index : 0;
    }

    private void report(Finding finding, String process) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("check", finding.check());
        details.put("summary", finding.summary());
        details.putAll(finding.details());
        if (process != null) {
            details.put("process", process);
        }
        synchronized (this) {
            findingsReported++;
        }
        events.emit(Source.VMI, finding.check(), Severity.ALARM, details);
        if (settings.action() == Action.PAUSE) {
            pauseVm.run();
        }
    }

    public synchronized Status status() {
        return new Status(baseline != null, baselineTime, passes, trappedEvents, findingsReported, lastPassMicros,
                cpuNanos, setupCpuNanos, heldNanos, monitoring.map(Monitoring::traps).orElse(Set.of()), lastError, List.copyOf(trapLatencies));
    }

    public synchronized Optional<KernelFacts> baseline() {
        return Optional.ofNullable(baseline);
    }

    @Override
    public void close() {
        timer.shutdownNow();
        monitoring.ifPresent(Monitoring::disarm);
    }
}
