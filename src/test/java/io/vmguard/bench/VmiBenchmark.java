package io.vmguard.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.events.EventSink;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.integrity.IntegrityMonitor;
import io.vmguard.vmm.IntrospectionSettings;
import io.vmguard.vmm.RunOutcome;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.Vm;
import io.vmguard.vmm.VmConfig;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * What the integrity monitor costs, on our guest under the interpreter (run by scripts/bench-vmi):
 * <ul>
 *   <li>guest slowdown: bench-cpu's time from the guest's ready line to its result with no monitor, with
 *       the integrity monitor (its traps plus a pass each second), and with every trap the engine has armed
 *       (all of the monitor's plus SYSCALL for every number, to a listener that only counts), rounds
 *       alternated so drift hits all three alike;</li>
 *   <li>the monitor's own CPU: its thread's CPU time over the runs' wall time, at a 1 s period;</li>
 *   <li>trap to event: for the trapped attacks of guest/initramfs/scripts/vmi-attack, the time from the
 *       engine's report to the alarm handed to the event sink.</li>
 * </ul>
 * Usage: {@code VmiBenchmark GUEST_DIR [ROUNDS]}; prints one JSON object.
 */
public final class VmiBenchmark {
    private static final Pattern READY = Pattern.compile("VMGUARD-GUEST-READY");
    private static final Pattern RESULT = Pattern.compile("bench-cpu: [0-9a-f]{16}");

    private VmiBenchmark() {}

    private enum Mode { OFF, MONITOR, ALL_TRAPS }

    private record CpuRun(double seconds, long monitorCpuNanos, double wallSeconds, long passes, long syscalls,
                          long setupCpuNanos) {}

    public static void main(String[] args) throws Exception {
        Path guest = Path.of(args[0]);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Map<Mode, List<CpuRun>> runs = new LinkedHashMap<>();
        for (Mode mode : Mode.values()) {
            runs.put(mode, new ArrayList<>());
        }
        for (int round = 0; round < rounds; round++) {
            for (Mode mode : Mode.values()) {
                CpuRun run = benchCpu(guest, mode);
                runs.get(mode).add(run);
                System.err.printf("round %d %-9s bench-cpu %.2f s%n", round + 1, mode, run.seconds());
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        double off = median(runs.get(Mode.OFF).stream().map(CpuRun::seconds).toList());
        double monitor = median(runs.get(Mode.MONITOR).stream().map(CpuRun::seconds).toList());
        double all = median(runs.get(Mode.ALL_TRAPS).stream().map(CpuRun::seconds).toList());
        out.put("rounds", rounds);
        out.put("bench_cpu_seconds_off", round3(off));
        out.put("bench_cpu_seconds_monitor", round3(monitor));
        out.put("bench_cpu_seconds_all_traps", round3(all));
        out.put("slowdown_monitor_percent", round3(100 * (monitor / off - 1)));
        out.put("slowdown_all_traps_percent", round3(100 * (all / off - 1)));
        out.put("syscalls_traced_per_run", runs.get(Mode.ALL_TRAPS).getFirst().syscalls());
        long cpu = runs.get(Mode.MONITOR).stream().mapToLong(CpuRun::monitorCpuNanos).sum();
        double wall = runs.get(Mode.MONITOR).stream().mapToDouble(CpuRun::wallSeconds).sum();
        long passes = runs.get(Mode.MONITOR).stream().mapToLong(CpuRun::passes).sum();
        // Steady state: the periodic passes' CPU over the time they cover (one period each).
        out.put("monitor_cpu_percent_of_one_core", passes == 0 ? 0 : round3(100 * cpu / 1e9 / passes));
        out.put("monitor_passes", passes);
        out.put("monitor_cpu_micros_per_pass", passes == 0 ? 0 : cpu / 1000 / passes);
        out.put("monitor_setup_cpu_millis_per_run", runs.get(Mode.MONITOR).stream().mapToLong(CpuRun::setupCpuNanos).sum()
                / 1_000_000 / rounds);
        out.put("monitor_wall_seconds", round3(wall));
        out.put("steady_state", steadyState(guest));
        out.put("trap_to_event_micros", trapLatencies(guest));
        System.out.println(new ObjectMapper().writeValueAsString(out));
    }

    private static CpuRun benchCpu(Path guest, Mode mode) throws Exception {
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(guest.resolve("bzImage"), guest.resolve("initramfs.cpio.gz"),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=bench-cpu", 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        AtomicLong syscalls = new AtomicLong();
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            long started = System.nanoTime();
            vm.start();
            IntegrityMonitor.Settings settings = new IntegrityMonitor.Settings(Duration.ofSeconds(1),
                    IntegrityMonitor.Action.ALERT, IntegrityMonitor.BaselinePoint.INIT, 60);
            var introspection = vm.attachIntrospection(new IntrospectionSettings(mode != Mode.OFF, settings, false));
            int ready = console.await(READY, 0, Duration.ofMinutes(2)).end();
            long readyAt = System.nanoTime();
            if (mode == Mode.ALL_TRAPS) {
                // Beside the monitor's own plan: every SYSCALL, every CR3 load, to a listener that only counts.
                awaitBaseline(introspection.monitor().orElseThrow());
                BitSet every = new BitSet();
                every.set(0, MonitorPlan.MAX_SYSTEM_CALLS);
                vm.monitoring("bench").orElseThrow().arm(new MonitorPlan(new BitSet(), Set.of(0, 3, 4),
                        Set.copyOf(Msr.SYSCALL_ENTRY), true, every, false), event -> syscalls.incrementAndGet());
            }
            console.await(RESULT, ready, Duration.ofMinutes(5));
            double seconds = (System.nanoTime() - readyAt) / 1e9;
            var status = introspection.monitor().map(IntegrityMonitor::status);
            double wall = (System.nanoTime() - started) / 1e9;
            RunOutcome outcome = vm.awaitOutcome();
            if (!(outcome instanceof RunOutcome.PoweredOff off) || off.status() != 0) {
                throw new IllegalStateException("bench-cpu did not finish cleanly: " + outcome + "\n" + console.text());
            }
            return new CpuRun(seconds, status.map(IntegrityMonitor.Status::cpuNanos).orElse(0L), wall,
                    status.map(IntegrityMonitor.Status::passes).orElse(0L), syscalls.get(),
                    status.map(IntegrityMonitor.Status::setupCpuNanos).orElse(0L));
        }
    }

    private static void awaitBaseline(IntegrityMonitor monitor) throws InterruptedException {
        for (int i = 0; i < 600 && !monitor.status().baselined(); i++) {
            Thread.sleep(50);
        }
    }

    /**
     * The monitor's cost once warm, as it is in a VM that runs for hours: one guest (the counter script),
     * passes every 100 ms for 20 s to warm the JIT, then 20 s measured. A pass costs the same whatever the
     * period, so its CPU and vCPU-hold time over a 1 s period are the shares at the default period.
     */
    private static Map<String, Object> steadyState(Path guest) throws Exception {
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(guest.resolve("bzImage"), guest.resolve("initramfs.cpio.gz"),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=counter vmguard.count=100000", 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            vm.start();
            var introspection = vm.attachIntrospection(IntrospectionSettings.monitoring(Duration.ofMillis(100),
                    IntegrityMonitor.Action.ALERT, IntegrityMonitor.BaselinePoint.INIT));
            IntegrityMonitor monitor = introspection.monitor().orElseThrow();
            awaitBaseline(monitor);
            Thread.sleep(20_000);
            IntegrityMonitor.Status before = monitor.status();
            Thread.sleep(20_000);
            IntegrityMonitor.Status after = monitor.status();
            long passes = after.passes() - before.passes();
            double cpuPerPass = (after.cpuNanos() - before.cpuNanos()) / (double) passes;
            double heldPerPass = (after.heldNanos() - before.heldNanos()) / (double) passes;
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("passes", passes);
            out.put("alarms", after.findings());
            out.put("cpu_micros_per_pass", Math.round(cpuPerPass / 1000));
            out.put("vcpu_held_micros_per_pass", Math.round(heldPerPass / 1000));
            out.put("cpu_percent_of_one_core_at_1s", round3(100 * cpuPerPass / 1e9));
            out.put("guest_time_lost_percent_at_1s", round3(100 * heldPerPass / 1e9));
            System.err.printf("steady state: %d passes, %.0f us CPU and %.0f us vCPU hold each%n", passes, cpuPerPass / 1000,
                    heldPerPass / 1000);
            return out;
        }
    }

    /** Trap-to-event times of every trapped alarm in one run of each trapped attack. */
    private static Map<String, Object> trapLatencies(Path guest) throws Exception {
        List<Long> samples = new ArrayList<>();
        for (String attack : List.of("syscall-table", "x64-sys-call", "idt", "lstar", "cr0-wp")) {
            ConsoleLines console = new ConsoleLines();
            VmConfig config = new VmConfig(guest.resolve("bzImage"), guest.resolve("initramfs.cpio.gz"),
                    RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=vmi-attack vmguard.attack=" + attack, 256L << 20, "interp",
                    new SerialTarget.Streams(InputStream.nullInputStream(), console));
            EventSink discard = new EventSink() {
                @Override
                public void emit(SecurityEvent event) {}

                @Override
                public void close() {}
            };
            try (Vm vm = Vm.create(config, new InterpEngine(), new VmEvents("bench", discard))) {
                vm.start();
                var introspection = vm.attachIntrospection(IntrospectionSettings.monitoring(Duration.ofSeconds(1),
                        IntegrityMonitor.Action.ALERT, IntegrityMonitor.BaselinePoint.INIT));
                vm.awaitOutcome();
                samples.addAll(introspection.monitor().orElseThrow().status().trapToEventNanos());
            }
            System.err.printf("trapped attack %-14s %d alarms%n", attack, samples.size());
        }
        List<Long> sorted = samples.stream().sorted().toList();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("samples", sorted.size());
        out.put("median", sorted.isEmpty() ? 0 : sorted.get(sorted.size() / 2) / 1000);
        out.put("max", sorted.isEmpty() ? 0 : sorted.getLast() / 1000);
        return out;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static double round3(double value) {
        return Math.round(value * 1000) / 1000.0;
    }
}
