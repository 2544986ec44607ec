package io.vmguard.av.runtime;

import io.vmguard.av.Scanner;
import io.vmguard.engine.monitor.ExecutionVerdict;
import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorListener;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.vmi.PhysicalMemory;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scans each guest code frame before its first instruction runs, and again after it changes (the engine's
 * {@link MonitorEvent.CodeExecution}), and acts on a match as {@link RuntimeAction} says. Runs on the vCPU's
 * thread while the guest waits: the scan of a frame seen before (same content, same neighbours) is one
 * SHA-256 and a map lookup.
 *
 * <p>Each match is one {@code av} alarm (signature, guest-physical and virtual address, user or kernel mode,
 * the process when introspection can name it, the action taken), once per code content and address space:
 * a guest that retries blocked code does not flood the event stream.
 */
public final class CodeScanner implements MonitorListener, AutoCloseable {
    /** Verdicts remembered: 64k entries of ~100 bytes, for 256 MiB of distinct code windows. */
    static final int CACHE_ENTRIES = 1 << 16;
    /** Alarms remembered to report each (content, address space) once; forgotten wholesale when full. */
    private static final int REPORTED_LIMIT = 1 << 16;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** The scanner's figures so far: for the API's status and the overhead benchmark. */
    public record Status(RuntimeAction action, long executions, long scans, long cacheHits, long bytesScanned,
                         long matches, long refused, long paused, long cpuNanos, int signatures) {}

    private final Scanner scanner;
    private final Monitoring monitoring;
    private final PhysicalMemory memory;
    private final ProcessNamer namer;
    private final VmEvents events;
    private final Runnable pauseVm;
    private final RuntimeAction action;
    private final int signatures;

    // Touched only under this object's lock (decide): every vCPU's thread asks here.
    private final ScanCache cache = new ScanCache(CACHE_ENTRIES);
    private final CodeWindow window = new CodeWindow();
    private final Set<Object> reported = new HashSet<>();
    /** Contents the VM was paused for once: after a resume they run (the operator has looked). */
    private final Set<ScanCache.Key> pausedFor = new HashSet<>();

    private final AtomicLong executions = new AtomicLong();
    private final AtomicLong scans = new AtomicLong();
    private final AtomicLong cacheHits = new AtomicLong();
    private final AtomicLong bytesScanned = new AtomicLong();
    private final AtomicLong matches = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong paused = new AtomicLong();
    private final AtomicLong cpuNanos = new AtomicLong();

    public CodeScanner(Scanner scanner, int signatures, Monitoring monitoring, PhysicalMemory memory,
                       ProcessNamer namer, VmEvents events, Runnable pauseVm, RuntimeAction action) {
        this.scanner = scanner;
        this.signatures = signatures;
        this.monitoring = monitoring;
        this.memory = memory;
        this.namer = namer;
        this.events = events;
        this.pauseVm = pauseVm;
        this.action = action;
    }

    /** Starts: from now on no guest code runs unscanned. */
    public void start() {
        monitoring.arm(MonitorPlan.empty().withCodeExecutions(true), this);
    }

    @Override
    public void onEvent(MonitorEvent event) {
        // Only code executions are armed; they arrive through beforeExecution.
    }

    @Override
    public ExecutionVerdict beforeExecution(MonitorEvent.CodeExecution event) {
        long started = THREADS.getCurrentThreadCpuTime();
        try {
            return decide(event);
        } finally {
            cpuNanos.addAndGet(THREADS.getCurrentThreadCpuTime() - started);
        }
    }

    /**
     * One vCPU at a time: the window, the digest, the verdict cache and what was reported are shared, and with
     * several vCPUs each asks from its own thread. Asking is rare (a frame's first execution since it changed),
     * so the others wait only while a frame is scanned, which takes microseconds.
     */
    private synchronized ExecutionVerdict decide(MonitorEvent.CodeExecution event) {
        executions.incrementAndGet();
        if (!window.fill(memory, event.frame(), event.rip(), event.cr3(), false)) {
            return ExecutionVerdict.RUN; // not RAM (a ROM or device window): nothing a signature database covers
        }
        ScanCache.Key key = cache.key(window.bytes, window.length);
        ScanCache.Verdict verdict = cache.get(key);
        if (verdict == null) {
            verdict = scan();
            cache.put(key, verdict);
        } else {
            cacheHits.incrementAndGet();
        }
        if (verdict.clean()) {
            return ExecutionVerdict.RUN;
        }
        return act(event, key, verdict);
    }

    private ScanCache.Verdict scan() {
        scans.incrementAndGet();
        bytesScanned.addAndGet(window.length);
        return window.judge(scanner);
    }

    private ExecutionVerdict act(MonitorEvent.CodeExecution event, ScanCache.Key key, ScanCache.Verdict verdict) {
        ExecutionVerdict answer;
        String taken;
        if (action == RuntimeAction.ALERT) {
            answer = ExecutionVerdict.RUN;
            taken = "alert";
        } else if (action == RuntimeAction.BLOCK && event.userMode()) {
            answer = ExecutionVerdict.REFUSE;
            taken = "blocked";
            refused.incrementAndGet();
        } else if (pausedFor.contains(key)) {
            return ExecutionVerdict.RUN; // paused for it once; resumed by someone who has looked
        } else {
            pausedFor.add(key);
            answer = ExecutionVerdict.RETRY;
            taken = "paused";
            paused.incrementAndGet();
            pauseVm.run();
        }
        if (reported.size() >= REPORTED_LIMIT) {
            reported.clear();
        }
        if (reported.add(List.of(key, event.cr3() & ~0xfffL))) {
            report(event, verdict, taken);
        }
        return answer;
    }

    private void report(MonitorEvent.CodeExecution event, ScanCache.Verdict verdict, String taken) {
        for (CodeMatch match : verdict.matches()) {
            matches.incrementAndGet();
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("signature", match.signature());
            details.put("database", match.database());
            details.put("mode", event.userMode() ? "user" : "kernel");
            details.put("guest_physical", hex(event.frame() + match.frameOffset()));
            if (window.virtualKnown) {
                details.put("guest_virtual", hex(window.virtualPage + match.frameOffset()));
            }
            details.put("rip", hex(event.rip()));
            details.put("cr3", hex(event.cr3()));
            details.put("vcpu", event.vcpu());
            if (event.userMode()) {
                namer.processFor(event.cr3()).ifPresent(process -> {
                    details.put("pid", process.pid());
                    details.put("process", process.name());
                });
            }
            details.put("action", taken);
            events.emit(Source.AV, "signature-match", Severity.ALARM, details);
        }
    }

    private static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }

    public Status status() {
        return new Status(action, executions.get(), scans.get(), cacheHits.get(), bytesScanned.get(), matches.get(),
                refused.get(), paused.get(), cpuNanos.get(), signatures);
    }

    @Override
    public void close() {
        monitoring.disarm();
    }
}
