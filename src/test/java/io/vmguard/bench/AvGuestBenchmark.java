package io.vmguard.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.runtime.CodeScanner;
import io.vmguard.av.runtime.RuntimeAction;
import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.vmm.Antivirus;
import io.vmguard.vmm.AntivirusSettings;
import io.vmguard.vmm.RunOutcome;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.Vm;
import io.vmguard.vmm.VmConfig;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What runtime scanning costs the guest, under the interpreter (run by scripts/bench-av): the same boot and
 * fixed busybox workload (guest/initramfs/scripts/av-run busy: fork/exec, pipes, tmpfs, gzip) with scanning
 * off and on, rounds alternated so drift hits both alike. Figures: the guest's own time for the workload
 * (from /proc/uptime), the host's wall time from start to power-off (the boot, where most code is first
 * executed, included), and the scanner's counts and CPU time.
 * Usage: {@code AvGuestBenchmark GUEST_DIR DATABASE [ROUNDS [ITERATIONS]]}; prints one JSON object.
 */
public final class AvGuestBenchmark {
    private static final Pattern BUSY = Pattern.compile("AV-BUSY iterations=(\\d+) centiseconds=(\\d+)");

    private AvGuestBenchmark() {}

    private record GuestRun(double workloadSeconds, double wallSeconds, Optional<CodeScanner.Status> scanner) {}

    public static void main(String[] args) throws Exception {
        Path guest = Path.of(args[0]);
        Path databasePath = Path.of(args[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int iterations = args.length > 3 ? Integer.parseInt(args[3]) : 40;
        long loadStarted = System.nanoTime();
        SignatureDatabase database = SignatureDatabase.load(List.of(databasePath), problem -> {});
        double loadSeconds = (System.nanoTime() - loadStarted) / 1e9;
        System.err.printf("bench-av guest: %d signatures loaded in %.2f s%n", database.signatureCount(), loadSeconds);
        List<GuestRun> off = new ArrayList<>();
        List<GuestRun> on = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            GuestRun plain = run(guest, AntivirusSettings.off(), iterations);
            off.add(plain);
            GuestRun scanned = run(guest, AntivirusSettings.scanning(database, RuntimeAction.BLOCK), iterations);
            on.add(scanned);
            System.err.printf("round %d: workload off %.2f s, on %.2f s; start to power-off off %.2f s, on %.2f s%n",
                    round + 1, plain.workloadSeconds(), scanned.workloadSeconds(), plain.wallSeconds(),
                    scanned.wallSeconds());
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("rounds", rounds);
        out.put("iterations", iterations);
        out.put("signatures", database.signatureCount());
        double workloadOff = median(off.stream().map(GuestRun::workloadSeconds).toList());
        double workloadOn = median(on.stream().map(GuestRun::workloadSeconds).toList());
        double wallOff = median(off.stream().map(GuestRun::wallSeconds).toList());
        double wallOn = median(on.stream().map(GuestRun::wallSeconds).toList());
        out.put("workload_seconds_off", round3(workloadOff));
        out.put("workload_seconds_on", round3(workloadOn));
        out.put("workload_overhead_percent", round3(100 * (workloadOn / workloadOff - 1)));
        out.put("boot_to_poweroff_seconds_off", round3(wallOff));
        out.put("boot_to_poweroff_seconds_on", round3(wallOn));
        out.put("boot_to_poweroff_overhead_percent", round3(100 * (wallOn / wallOff - 1)));
        CodeScanner.Status last = on.getLast().scanner().orElseThrow();
        out.put("first_executions_per_run", last.executions());
        out.put("scans_per_run", last.scans());
        out.put("cache_hits_per_run", last.cacheHits());
        out.put("bytes_scanned_per_run", last.bytesScanned());
        out.put("scanner_cpu_seconds_per_run", round3(last.cpuNanos() / 1e9));
        out.put("matches", last.matches());
        System.out.println(new ObjectMapper().writeValueAsString(out));
    }

    private static GuestRun run(Path guest, AntivirusSettings settings, int iterations) throws Exception {
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(guest.resolve("bzImage"), guest.resolve("initramfs.cpio.gz"),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=av-run vmguard.av=busy vmguard.iterations=" + iterations,
                256L << 20, "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console));
        long started = System.nanoTime();
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            Optional<Antivirus> antivirus = vm.attachAntivirus(settings);
            vm.start();
            RunOutcome outcome = vm.awaitOutcome();
            double wall = (System.nanoTime() - started) / 1e9;
            if (!(outcome instanceof RunOutcome.PoweredOff)) {
                throw new IllegalStateException("the guest did not finish: " + outcome + "\n" + console.text());
            }
            Matcher busy = BUSY.matcher(console.text());
            if (!busy.find()) {
                throw new IllegalStateException("no AV-BUSY line:\n" + console.text());
            }
            return new GuestRun(Long.parseLong(busy.group(2)) / 100.0, wall, antivirus.flatMap(Antivirus::scannerStatus));
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static double round3(double value) {
        return Math.round(value * 1000) / 1000.0;
    }
}
