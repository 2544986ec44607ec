package io.vmguard.bench;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.LazyFill;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.memory.MemoryImage;
import io.vmguard.seal.SealedKey;
import io.vmguard.seal.RestoreMode;
import io.vmguard.seal.SealedMemoryImage;
import io.vmguard.seal.SealingTpm;
import io.vmguard.snapshot.Phases;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * What sealing costs a snapshot (run by scripts/bench-seal): guest RAM of each size, every page written (a
 * guest that used all its memory, the worst case for both), saved and restored plain ({@link MemoryImage}:
 * zero pages as holes; restore maps the file, and the guest then touches every page) and sealed
 * ({@link SealedMemoryImage}: AES-256-GCM per 64 KiB chunk; saved with libcrypto on every core, on one thread,
 * and with JCA on one thread as before; restored up front, or lazily: running at once, chunks filled on first
 * touch and in the background by a helper process), rounds alternated, medians, each with this JVM's CPU time
 * beside its wall-clock time and its phases ({@link Phases}: scan, encrypt, write, fsync; authenticate, decrypt;
 * the helper's spawn). The data key's seal and unseal by the owner's swtpm are measured on their own, phase by
 * phase (swtpm start, TPM2_Startup, the storage key, the salted session, Create or Load + Unseal, shutdown):
 * they cost the same at every size.
 * Usage: {@code SealBenchmark WORK_DIR [SIZES_MIB] [ROUNDS]}, e.g. {@code /tmp/x 256,2048 3}; prints one JSON object.
 */
public final class SealBenchmark {
    private SealBenchmark() {}

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        List<Long> sizes = Arrays.stream((args.length > 1 ? args[1] : "256,2048").split(",")).map(s -> Long.parseLong(s) << 20).toList();
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        SealingTpm owner = new SealingTpm(work.resolve("owner-tpm"), new byte[0]);
        byte[] key = new byte[SealingTpm.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        List<Double> sealTimes = new ArrayList<>(), unsealTimes = new ArrayList<>();
        List<Map<String, Double>> sealPhases = new ArrayList<>(), unsealPhases = new ArrayList<>();
        SealedKey sealedKey = null;
        for (int i = 0; i < rounds; i++) {
            Phases sealing = new Phases(), unsealing = new Phases();
            long t0 = System.nanoTime();
            try (Phases.Binding _ = sealing.record()) {
                sealedKey = owner.seal(key);
            }
            long t1 = System.nanoTime();
            try (Phases.Binding _ = unsealing.record()) {
                owner.unseal(sealedKey);
            }
            sealTimes.add((t1 - t0) / 1e9);
            unsealTimes.add((System.nanoTime() - t1) / 1e9);
            sealPhases.add(sealing.seconds());
            unsealPhases.add(unsealing.seconds());
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("cores", Runtime.getRuntime().availableProcessors());
        result.put("load_average_at_start", loadAverage());
        result.put("key_seal_seconds", median(sealTimes));
        result.put("key_seal_phases", medians(sealPhases));
        result.put("key_unseal_seconds", median(unsealTimes));
        result.put("key_unseal_phases", medians(unsealPhases));
        System.err.println("bench-seal: key seal " + medians(sealPhases) + "\nbench-seal: key unseal " + medians(unsealPhases));
        // As under `vmguard serve --seal`: a swtpm on standby, given a moment to start between uses.
        owner.keepStandby();
        List<Double> standbySeal = new ArrayList<>(), standbyUnseal = new ArrayList<>();
        List<Map<String, Double>> standbySealPhases = new ArrayList<>(), standbyUnsealPhases = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            Phases sealing = new Phases(), unsealing = new Phases();
            Thread.sleep(1000);
            long t0 = System.nanoTime();
            try (Phases.Binding _ = sealing.record()) {
                sealedKey = owner.seal(key);
            }
            standbySeal.add((System.nanoTime() - t0) / 1e9);
            Thread.sleep(1000);
            long t1 = System.nanoTime();
            try (Phases.Binding _ = unsealing.record()) {
                owner.unseal(sealedKey);
            }
            standbyUnseal.add((System.nanoTime() - t1) / 1e9);
            standbySealPhases.add(sealing.seconds());
            standbyUnsealPhases.add(unsealing.seconds());
        }
        owner.closeStandby();
        result.put("key_seal_standby_seconds", median(standbySeal));
        result.put("key_seal_standby_phases", medians(standbySealPhases));
        result.put("key_unseal_standby_seconds", median(standbyUnseal));
        result.put("key_unseal_standby_phases", medians(standbyUnsealPhases));
        System.err.println("bench-seal: key seal, swtpm on standby " + medians(standbySealPhases)
                + "\nbench-seal: key unseal, swtpm on standby " + medians(standbyUnsealPhases));
        List<Map<String, Object>> bySize = new ArrayList<>();
        for (long size : sizes) {
            bySize.add(measure(work, size, rounds, key, sealedKey, median(sealTimes), median(unsealTimes)));
        }
        result.put("sizes", bySize);
        result.put("load_average_at_end", loadAverage());
        System.out.println(toJson(result));
    }

    private static Map<String, Object> measure(Path work, long size, int rounds, byte[] key, SealedKey sealedKey,
                                               double keySeal, double keyUnseal) throws Exception {
        List<GuestMemory.Range> layout = X86Layout.ramRanges(size);
        UUID id = UUID.randomUUID();
        Path plain = work.resolve("plain.mem");
        Path sealed = work.resolve("sealed.mem");
        Map<String, List<Double>> times = new LinkedHashMap<>();
        Map<String, List<Map<String, Double>>> phases = new LinkedHashMap<>();
        try (GuestMemory memory = GuestMemory.allocate(layout)) {
            fill(memory);
            for (int round = 0; round < rounds; round++) {
                timed(times, phases, "save_plain", () -> MemoryImage.write(memory, plain, id));
                timed(times, phases, "save_sealed", () -> SealedMemoryImage.write(memory, sealed, id, key, sealedKey));
                timed(times, phases, "save_sealed_1_thread", () -> SealedMemoryImage.write(memory, sealed, id, key, sealedKey, 1));
                System.setProperty("vmguard.seal.jca", "true");
                try {
                    timed(times, phases, "save_sealed_jca_1_thread", () -> SealedMemoryImage.write(memory, sealed, id, key, sealedKey, 1));
                } finally {
                    System.clearProperty("vmguard.seal.jca");
                }
                SealedMemoryImage.write(memory, sealed, id, key, sealedKey); // the file the restores read

                long t3 = System.nanoTime();
                long cpu3 = processCpuNanos();
                try (GuestMemory restored = MemoryImage.map(plain, layout, id)) {
                    add(times, "plain_running", t3);
                    touchAll(restored);
                    add(times, "restore_plain", t3);
                }
                times.computeIfAbsent("restore_plain_cpu", k -> new ArrayList<>()).add((processCpuNanos() - cpu3) / 1e9);
                timed(times, phases, "restore_sealed_up_front", () -> {
                    try (GuestMemory restored = SealedMemoryImage.read(sealed, layout, id, key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT)) {
                        return touchAll(restored);
                    }
                });

                // Lazy: running when read returns; the first page touched waits for the helper's JVM; the workload
                // touches every page at once (racing the background pass, as a busy guest would); resident when the
                // helper has filled every chunk.
                Phases lazy = new Phases();
                long t6 = System.nanoTime();
                try (Phases.Binding _ = lazy.record();
                     GuestMemory restored = SealedMemoryImage.read(sealed, layout, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY)) {
                    add(times, "lazy_running", t6);
                    restored.regions().getFirst().backing().get(ValueLayout.JAVA_BYTE, 0);
                    add(times, "lazy_first_page", t6);
                    touchAll(restored);
                    add(times, "lazy_touched_all", t6);
                    LazyFill fill = restored.filling().orElse(null);
                    if (fill != null && !fill.awaitComplete(Duration.ofMinutes(5))) {
                        throw new IllegalStateException("the lazy restore did not complete: " + fill.failure());
                    }
                    add(times, "lazy_resident", t6);
                    if (fill == null && !restored.anonymous()) {
                        throw new IllegalStateException("the lazy restore fell back to up front");
                    }
                }
                phases.computeIfAbsent("restore_sealed_lazy", k -> new ArrayList<>()).add(lazy.seconds());
                StringBuilder line = new StringBuilder();
                times.forEach((name, values) -> line.append(String.format(Locale.ROOT, " %s %.3f", name, values.getLast())));
                System.err.printf(Locale.ROOT, "bench-seal: %d MiB round %d:%s%n", size >> 20, round + 1, line);
            }
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("memory_mib", size >> 20);
        row.put("plain_file_bytes", Files.size(plain));
        row.put("sealed_file_bytes", Files.size(sealed));
        times.forEach((name, values) -> row.put(name + "_seconds", median(values)));
        double savePlain = median(times.get("save_plain"));
        double restorePlain = median(times.get("restore_plain"));
        row.put("save_sealed_with_key_seal_seconds", median(times.get("save_sealed")) + keySeal);
        row.put("save_overhead_percent", 100 * (median(times.get("save_sealed")) + keySeal - savePlain) / savePlain);
        row.put("save_jca_1_thread_overhead_percent", 100 * (median(times.get("save_sealed_jca_1_thread")) + keySeal - savePlain) / savePlain);
        row.put("save_cpu_overhead_percent", 100 * (median(times.get("save_sealed_cpu")) - median(times.get("save_plain_cpu")))
                / median(times.get("save_plain_cpu")));
        row.put("restore_up_front_cpu_overhead_percent", 100 * (median(times.get("restore_sealed_up_front_cpu"))
                - median(times.get("restore_plain_cpu"))) / median(times.get("restore_plain_cpu")));
        row.put("restore_up_front_overhead_percent",
                100 * (median(times.get("restore_sealed_up_front")) + keyUnseal - restorePlain) / restorePlain);
        row.put("lazy_running_with_key_unseal_seconds", median(times.get("lazy_running")) + keyUnseal);
        row.put("lazy_touched_overhead_percent", 100 * (median(times.get("lazy_touched_all")) + keyUnseal - restorePlain) / restorePlain);
        Map<String, Object> phaseRows = new LinkedHashMap<>();
        phases.forEach((name, values) -> phaseRows.put(name, medians(values)));
        row.put("phases", phaseRows);
        phaseRows.forEach((name, values) -> System.err.printf(Locale.ROOT, "bench-seal: %d MiB phases of %s: %s%n", size >> 20, name, values));
        Files.deleteIfExists(plain);
        Files.deleteIfExists(sealed);
        return row;
    }

    /** Work timed as {@code name}, its phases recorded. */
    private static void timed(Map<String, List<Double>> times, Map<String, List<Map<String, Double>>> phases, String name,
                              java.util.concurrent.Callable<?> work) throws Exception {
        Phases recorder = new Phases();
        long cpu0 = processCpuNanos();
        long t0 = System.nanoTime();
        try (Phases.Binding _ = recorder.record()) {
            work.call();
        }
        add(times, name, t0);
        times.computeIfAbsent(name + "_cpu", k -> new ArrayList<>()).add((processCpuNanos() - cpu0) / 1e9);
        phases.computeIfAbsent(name, k -> new ArrayList<>()).add(recorder.seconds());
    }

    /**
     * This JVM's CPU time (all threads): on a host whose other jobs take most of the cores, wall-clock time
     * measures the neighbours as much as the work, CPU time mostly the work (not the helper process's).
     */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static void add(Map<String, List<Double>> times, String name, long startedNanos) {
        times.computeIfAbsent(name, k -> new ArrayList<>()).add((System.nanoTime() - startedNanos) / 1e9);
    }

    /** Each phase's median over the rounds. */
    private static Map<String, Double> medians(List<Map<String, Double>> rounds) {
        Map<String, List<Double>> byPhase = new LinkedHashMap<>();
        rounds.forEach(round -> round.forEach((phase, value) -> byPhase.computeIfAbsent(phase, k -> new ArrayList<>()).add(value)));
        Map<String, Double> out = new LinkedHashMap<>();
        byPhase.forEach((phase, values) -> out.put(phase, median(values)));
        return out;
    }

    private static String loadAverage() {
        try {
            return "\"" + Files.readString(Path.of("/proc/loadavg")).strip() + "\"";
        } catch (java.io.IOException e) {
            return "null";
        }
    }

    /** Every page gets pseudo-random bytes (xorshift), as a guest that used all of its RAM leaves it. */
    private static void fill(GuestMemory memory) {
        long x = 0x9E3779B97F4A7C15L;
        for (var region : memory.regions()) {
            MemorySegment backing = region.backing();
            for (long at = 0; at < backing.byteSize(); at += 8) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                backing.set(ValueLayout.JAVA_LONG_UNALIGNED, at, x);
            }
        }
    }

    /** Reads a byte of every page: the guest using its memory after a restore (a lazy restore pays here). */
    private static long touchAll(GuestMemory memory) {
        long sum = 0;
        for (var region : memory.regions()) {
            MemorySegment backing = region.backing();
            for (long at = 0; at < backing.byteSize(); at += 4096) {
                sum += backing.get(ValueLayout.JAVA_BYTE, at);
            }
        }
        return sum;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }

    private static String toJson(Object value) {
        return switch (value) {
            case Map<?, ?> map -> {
                List<String> parts = new ArrayList<>();
                map.forEach((k, v) -> parts.add("\"" + k + "\": " + toJson(v)));
                yield "{" + String.join(", ", parts) + "}";
            }
            case List<?> list -> "[" + String.join(", ", list.stream().map(SealBenchmark::toJson).toList()) + "]";
            case Double d -> String.format(Locale.ROOT, "%.4f", d);
            default -> String.valueOf(value);
        };
    }
}
