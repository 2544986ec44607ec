package io.vmguard.vmi;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.vmi.linux.LinuxKernel;
import io.vmguard.vmi.linux.LinuxTask;
import io.vmguard.vmi.linux.SyscallEntry;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * System-call events, filtered by number and optionally by process name: one {@code vmi} {@code syscall}
 * info event per selected call, naming the calling task (read from the kernel's per-CPU current task on the
 * vCPU thread, so even a process forked a microsecond ago is named). Only the selected numbers are trapped
 * at all; with no filter nothing is armed and nothing is paid. Bounded: at most {@link #MAX_EVENTS_PER_SECOND}
 * events a second, the rest counted in one {@code syscall-events-dropped} event per second.
 */
public final class SyscallTracer {
    public static final int MAX_EVENTS_PER_SECOND = 1000;

    /** Which calls: numbers (empty: none) and, when given, only tasks whose name is {@code process}. */
    public record Filter(BitSet numbers, Optional<String> process) {
        public Filter {
            numbers = (BitSet) numbers.clone();
        }
    }

    private final Monitoring monitoring;
    private final VmEvents events;
    // Written by start/stop, read on vCPU threads.
    private volatile Tracing tracing;
    private long windowStart;
    private int inWindow;
    private long dropped;
    private long traced;

    private record Tracing(Filter filter, LinuxKernel kernel, Map<Long, String> names) {}

    public SyscallTracer(Monitoring monitoring, VmEvents events) {
        this.monitoring = monitoring;
        this.events = events;
    }

    /** Starts (or changes) tracing; {@code kernel} was opened over a consistent view just now. */
    public synchronized void start(Filter filter, LinuxKernel kernel) throws VmiException {
        if (filter.numbers().isEmpty()) {
            stop();
            return;
        }
        if (filter.numbers().length() > MonitorPlan.MAX_SYSTEM_CALLS) {
            throw new VmiException("system-call numbers go up to " + (MonitorPlan.MAX_SYSTEM_CALLS - 1));
        }
        Map<Long, String> names = new HashMap<>();
        for (SyscallEntry entry : kernel.syscallTable()) {
            String symbol = entry.symbol();
            names.put((long) entry.number(), symbol.startsWith("__x64_sys_") ? symbol.substring("__x64_sys_".length()) : symbol);
        }
        tracing = new Tracing(filter, kernel, names);
        monitoring.arm(new MonitorPlan(new BitSet(), Set.of(), Set.of(), false, filter.numbers(), false), this::onEvent);
    }

    public synchronized void stop() {
        tracing = null;
        monitoring.disarm();
    }

    public synchronized Map<String, Object> status() {
        Map<String, Object> status = new LinkedHashMap<>();
        Tracing current = tracing;
        status.put("tracing", current != null);
        if (current != null) {
            status.put("numbers", current.filter().numbers().stream().boxed().toList());
            current.filter().process().ifPresent(p -> status.put("process", p));
        }
        status.put("traced", traced);
        status.put("dropped", dropped);
        return status;
    }

    private void onEvent(MonitorEvent event) {
        Tracing current = tracing;
        if (!(event instanceof MonitorEvent.SystemCall call) || current == null) {
            return;
        }
        String task;
        int pid = -1;
        try {
            LinuxTask running = current.kernel().taskOnCpu(call.kernelPerCpuBase());
            task = running.comm();
            pid = running.tgid();
        } catch (VmiException e) {
            task = "?";
        }
        if (current.filter().process().isPresent() && !current.filter().process().get().equals(task)) {
            return;
        }
        if (!admit()) {
            return;
        }
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("vcpu", call.vcpu());
        details.put("number", call.number());
        details.put("name", current.names().getOrDefault(call.number(), "?"));
        details.put("pid", pid);
        details.put("process", task);
        details.put("args", List.of(hex(call.arg0()), hex(call.arg1()), hex(call.arg2())));
        details.put("rip", hex(call.rip()));
        events.emit(Source.VMI, "syscall", Severity.INFO, details);
    }

    /** The rate bound: true when this event may go out. */
    private synchronized boolean admit() {
        long now = System.nanoTime();
        if (now - windowStart > 1_000_000_000L) {
            if (dropped > 0 && inWindow >= MAX_EVENTS_PER_SECOND) {
                events.emit(Source.VMI, "syscall-events-dropped", Severity.WARNING, Map.of("dropped_total", dropped));
            }
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow >= MAX_EVENTS_PER_SECOND) {
            dropped++;
            return false;
        }
        inWindow++;
        traced++;
        return true;
    }

    private static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
