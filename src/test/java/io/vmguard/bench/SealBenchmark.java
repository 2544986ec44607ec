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
 * ({@link SealedMemoryImage}: AES-256-GCM per 64 KiB chunk; restore decrypts up front, or lazily: running at
 * once, chunks filled on first touch and in the background by a helper process), rounds alternated,
 * medians. The data key's seal and unseal by the owner's swtpm (a process start, CreatePrimary, Create or
 * Load + Unseal) are measured on their own: they cost the same at every size.
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
        SealedKey sealedKey = null;
        for (int i = 0; i < rounds; i++) {
            long t0 = System.nanoTime();
            sealedKey = owner.seal(key);
            long t1 = System.nanoTime();
            owner.unseal(sealedKey);
            sealTimes.add((t1 - t0) / 1e9);
            unsealTimes.add((System.nanoTime() - t1) / 1e9);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("key_seal_seconds", median(sealTimes));
        result.put("key_unseal_seconds", median(unsealTimes));
        List<Map<String, Object>> bySize = new ArrayList<>();
        for (long size : sizes) {
            bySize.add(measure(work, size, rounds, key, sealedKey, median(sealTimes), median(unsealTimes)));
        }
        result.put("sizes", bySize);
        System.out.println(toJson(result));
    }

    private static Map<String, Object> measure(Path work, long size, int rounds, byte[] key, SealedKey sealedKey,
                                               double keySeal, double keyUnseal) throws Exception {
        List<GuestMemory.Range> layout = X86Layout.ramRanges(size);
        UUID id = UUID.randomUUID();
        Path plain = work.resolve("plain.mem");
        Path sealed = work.resolve("sealed.mem");
        List<Double> plainSave = new ArrayList<>(), sealedSave = new ArrayList<>(), plainRestore = new ArrayList<>(),
                sealedRestore = new ArrayList<>(), lazyRunning = new ArrayList<>(), lazyWorkload = new ArrayList<>(),
                lazyResident = new ArrayList<>(), plainRunning = new ArrayList<>();
        try (GuestMemory memory = GuestMemory.allocate(layout)) {
            fill(memory);
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                MemoryImage.write(memory, plain, id);
                long t1 = System.nanoTime();
                SealedMemoryImage.write(memory, sealed, id, key, sealedKey);
                long t2 = System.nanoTime();
                plainSave.add((t1 - t0) / 1e9);
                sealedSave.add((t2 - t1) / 1e9);

                long t3 = System.nanoTime();
                try (GuestMemory restored = MemoryImage.map(plain, layout, id)) {
                    plainRunning.add((System.nanoTime() - t3) / 1e9);
                    touchAll(restored);
                }
                long t4 = System.nanoTime();
                try (GuestMemory restored = SealedMemoryImage.read(sealed, layout, id, key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT)) {
                    touchAll(restored);
                }
                long t5 = System.nanoTime();
                plainRestore.add((t4 - t3) / 1e9);
                sealedRestore.add((t5 - t4) / 1e9);

                // Lazy: running when read returns; the workload touches every page at once (racing the
                // background pass, as a busy guest would); resident when the helper has filled every chunk.
                long t6 = System.nanoTime();
                try (GuestMemory restored = SealedMemoryImage.read(sealed, layout, id, key, MemoryBackend.ANONYMOUS, RestoreMode.LAZY)) {
                    long t7 = System.nanoTime();
                    touchAll(restored);
                    long t8 = System.nanoTime();
                    LazyFill fill = restored.filling().orElse(null);
                    if (fill != null && !fill.awaitComplete(Duration.ofMinutes(5))) {
                        throw new IllegalStateException("the lazy restore did not complete: " + fill.failure());
                    }
                    long t9 = System.nanoTime();
                    if (fill == null && !restored.anonymous()) {
                        throw new IllegalStateException("the lazy restore fell back to up front");
                    }
                    lazyRunning.add((t7 - t6) / 1e9);
                    lazyWorkload.add((t8 - t6) / 1e9);
                    lazyResident.add((t9 - t6) / 1e9);
                }
                System.err.printf(Locale.ROOT, "bench-seal: %d MiB round %d: save plain %.3f s sealed %.3f s, restore plain: running %.3f s, "
                                + "touched %.3f s; sealed up front %.3f s; lazy: running %.3f s, touched %.3f s, resident %.3f s%n",
                        size >> 20, round + 1, plainSave.getLast(), sealedSave.getLast(), plainRunning.getLast(), plainRestore.getLast(),
                        sealedRestore.getLast(),
                        lazyRunning.getLast(), lazyWorkload.getLast(), lazyResident.getLast());
            }
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("memory_mib", size >> 20);
        row.put("plain_file_bytes", Files.size(plain));
        row.put("sealed_file_bytes", Files.size(sealed));
        row.put("save_plain_seconds", median(plainSave));
        row.put("save_sealed_seconds", median(sealedSave));
        row.put("save_sealed_with_key_seal_seconds", median(sealedSave) + keySeal);
        row.put("save_overhead_percent", 100 * (median(sealedSave) + keySeal - median(plainSave)) / median(plainSave));
        row.put("restore_plain_seconds", median(plainRestore));
        row.put("restore_sealed_seconds", median(sealedRestore));
        row.put("restore_sealed_with_key_unseal_seconds", median(sealedRestore) + keyUnseal);
        row.put("restore_overhead_percent", 100 * (median(sealedRestore) + keyUnseal - median(plainRestore)) / median(plainRestore));
        row.put("plain_running_seconds", median(plainRunning));
        row.put("lazy_running_seconds", median(lazyRunning));
        row.put("lazy_running_with_key_unseal_seconds", median(lazyRunning) + keyUnseal);
        row.put("lazy_touched_all_seconds", median(lazyWorkload));
        row.put("lazy_resident_seconds", median(lazyResident));
        row.put("lazy_touched_overhead_percent", 100 * (median(lazyWorkload) + keyUnseal - median(plainRestore)) / median(plainRestore));
        Files.deleteIfExists(plain);
        Files.deleteIfExists(sealed);
        return row;
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
