package io.vmguard.av.testing;

import io.vmguard.av.testing.SigElement.Bytes;
import io.vmguard.av.testing.SigElement.Gap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Files with signature instances planted in random bytes, and what each should raise. Layout under the
 * directory: {@code planted/} one random 0-4 KB file per signature with an instance at a random offset;
 * {@code clean/} random files; {@code tricky/} gap boundaries and near-misses of a few signatures of each
 * kind, instances at the very start and end of a file and across ClamAV's 128 KiB scan window;
 * {@code tracklen/} ClamAV's documented approximation (av.md §4.4).
 */
public final class PlantedCorpus {
    /** ClamAV's scan window (SCANBUFF); an instance across it exercises the overlap between windows. */
    public static final int CLAMAV_WINDOW = 128 * 1024;

    /**
     * A written file. {@code expected}: the signatures a complete matcher reports; {@code clamavExpected}: what
     * clamscan reports, which differs only where ClamAV's TRACKLEN ring loses an occurrence.
     */
    public record PlantedFile(Path path, String category, Set<String> expected, Set<String> clamavExpected) {
        public PlantedFile(Path path, String category, Set<String> expected) {
            this(path, category, expected, expected);
        }
    }

    private final SignatureGenerator generator;
    private final Random random;
    private final Path dir;
    private final List<PlantedFile> files = new ArrayList<>();

    public PlantedCorpus(SignatureGenerator generator, Path dir) {
        this.generator = generator;
        this.random = generator.random();
        this.dir = dir;
    }

    public List<PlantedFile> files() {
        return List.copyOf(files);
    }

    /** One file per signature: 0-4 KB of random bytes with an instance at a random offset. */
    public PlantedCorpus plantEach(List<GeneratedSignature> sigs) {
        for (GeneratedSignature sig : sigs) {
            byte[] instance = generator.instantiate(sig);
            int background = random.nextInt(4097);
            int at = random.nextInt(background + 1);
            write("planted", sig.name() + ".bin", around(instance, at, background), Set.of(sig.name()));
        }
        return this;
    }

    /** {@code count} random files of 1-4 KB with nothing planted, then an empty file. */
    public PlantedCorpus clean(int count) {
        for (int i = 0; i < count; i++) {
            write("clean", "clean-" + i + ".bin", generator.filler(1 + random.nextInt(4096), -1), Set.of());
        }
        write("clean", "empty.bin", new byte[0], Set.of());
        return this;
    }

    /** Boundary cases and near-misses of the first {@code perKind} signatures of each kind, plus placement edges. */
    public PlantedCorpus tricky(List<GeneratedSignature> sigs, int perKind) {
        Map<SyntaxKind, Integer> taken = new java.util.EnumMap<>(SyntaxKind.class);
        for (GeneratedSignature sig : sigs) {
            int n = taken.merge(sig.kind(), 1, Integer::sum);
            if (n > perKind) {
                continue;
            }
            for (SignatureGenerator.Variant v : generator.variants(sig)) {
                int background = random.nextInt(2049);
                write("tricky", sig.name() + "-" + v.label() + ".bin", around(v.bytes(), random.nextInt(background + 1), background),
                        v.matches() ? Set.of(sig.name()) : Set.of());
            }
            if (n == 1) {
                byte[] instance = generator.instantiate(sig);
                write("tricky", sig.name() + "-at-start.bin", around(instance, 0, 100 + random.nextInt(900)), Set.of(sig.name()));
                instance = generator.instantiate(sig);
                int background = 100 + random.nextInt(900);
                write("tricky", sig.name() + "-at-end.bin", around(instance, background, background), Set.of(sig.name()));
                write("tricky", sig.name() + "-alone.bin", generator.instantiate(sig), Set.of(sig.name()));
                // Across the boundary between ClamAV's first and second 128 KiB windows.
                instance = generator.instantiate(sig);
                int at = CLAMAV_WINDOW - instance.length / 2;
                write("tricky", sig.name() + "-across-window.bin", around(instance, at, 3 * CLAMAV_WINDOW / 2), Set.of(sig.name()));
                if (sig.kind() == SyntaxKind.STAR) {
                    // * spanning more than two windows.
                    write("tricky", sig.name() + "-star-300k.bin", starSpread(sig, 300_000), Set.of(sig.name()));
                }
            }
        }
        return this;
    }

    /**
     * ClamAV keeps the first and the last 8 occurrences of each earlier part (av.md §2.3, §4.4). For
     * {@code A{100-200}B}: one A too far from B, then the only valid A, then {@code extra} more A's too close
     * to B. With 8 or more extra A's the valid one has left the ring and clamscan misses the match; with 5 or
     * 7 it does not. Writes one signature per case and returns them (add them to the database).
     */
    public List<GeneratedSignature> tracklen(String namePrefix, int[] extras) {
        List<GeneratedSignature> out = new ArrayList<>();
        for (int extra : extras) {
            byte[] a = generator.filler(4, -1);
            byte[] b = generator.filler(6, -1);
            GeneratedSignature sig = new GeneratedSignature(namePrefix + ".Tracklen" + extra + "." + out.size(), SyntaxKind.RANGE_GAP,
                    List.of(new Bytes(a), Gap.range(100, 200), new Bytes(b)));
            ByteArrayOutputStream file = new ByteArrayOutputStream();
            file.writeBytes(generator.filler(64, -1));
            file.writeBytes(a);                           // too far: 300 + 150 bytes before B
            file.writeBytes(generator.filler(300, -1));
            file.writeBytes(a);                           // the valid one: B starts 150 bytes after its end
            byte[] between = generator.filler(150, -1);
            // The extra A's in the last 96 bytes before B, 8 bytes apart: all closer than 100, so none valid.
            for (int k = 0; k < extra; k++) {
                System.arraycopy(a, 0, between, 150 - 96 + 8 * k, a.length);
            }
            file.writeBytes(between);
            file.writeBytes(b);
            file.writeBytes(generator.filler(64, -1));
            boolean clamavMisses = extra >= 8;
            write("tracklen", sig.name() + ".bin", file.toByteArray(), Set.of(sig.name()),
                    clamavMisses ? Set.of() : Set.of(sig.name()));
            out.add(sig);
        }
        return out;
    }

    /**
     * Signatures anchored by ndb offsets, {@code rounds} of each form over the 13 kinds, each planted where the
     * offset allows it and one byte past: {@code n} (start exactly at n), {@code n,m} (start in n..n+m, planted
     * at both ends), {@code EOF-n} (start exactly n bytes before the end). Returns the signatures to add.
     */
    public List<GeneratedSignature> offsets(String namePrefix, int rounds) {
        List<GeneratedSignature> out = new ArrayList<>();
        SyntaxKind[] kinds = SyntaxKind.values();
        for (int i = 0; i < rounds * kinds.length; i++) {
            GeneratedSignature body = generator.next(kinds[i % kinds.length]);
            int n = 40 + random.nextInt(2000);
            int m = 1 + random.nextInt(200);
            GeneratedSignature abs = body.at(namePrefix + ".Abs." + i, Integer.toString(n));
            GeneratedSignature window = body.at(namePrefix + ".Window." + i, n + "," + m);
            GeneratedSignature eof = body.at(namePrefix + ".Eof." + i, "EOF-" + (n + 300));
            out.addAll(List.of(abs, window, eof));
            // A leading "b[x-y]" is a condition outside the match (as clamscan reads it): offsets refer to where
            // the part after it starts, so plant the instance that much earlier.
            int shift = 0;
            byte[] instance;
            if (body.elements().size() > 1 && body.elements().get(1) instanceof SigElement.Bracket br
                    && ((SigElement.Bytes) body.elements().getFirst()).value().length == 1) {
                shift = 1 + br.min();
                instance = generator.fill(body, Map.of(1, br.min()), Map.of());
            } else {
                instance = generator.instantiate(body);
            }
            int tail = 500 + random.nextInt(500);
            int fromEnd = n + 300;
            // Match starts at n (absolute and window), n+1 (window only), n+m, n+m+1, n-1; then exactly at
            // EOF-(n+300) and a byte later. Each file's expectation is worked out for all three forms.
            // {match start, file size}
            List<long[]> placements = new ArrayList<>();
            for (long start : new long[] {n, n + 1, n + m, n + m + 1, n - 1}) {
                placements.add(new long[] {start, start - shift + instance.length + tail});
            }
            if (fromEnd > instance.length) {
                int before = 50 + random.nextInt(50);
                placements.add(new long[] {before, before + fromEnd});
                placements.add(new long[] {before + 1, before + fromEnd});
            }
            for (long[] p : placements) {
                long start = p[0];
                long size = p[1];
                Set<String> expected = new java.util.HashSet<>();
                if (start == n) {
                    expected.add(abs.name());
                }
                if (start >= n && start <= n + m) {
                    expected.add(window.name());
                }
                if (size - start == fromEnd) {
                    expected.add(eof.name());
                }
                write("offset", body.name() + "-at-" + start + "-size-" + size + ".bin",
                        around(instance, (int) (start - shift), (int) (size - instance.length)), expected);
            }
        }
        return out;
    }

    private byte[] starSpread(GeneratedSignature sig, int spread) {
        List<SigElement> e = sig.elements();
        Map<Integer, Integer> lengths = new java.util.HashMap<>();
        for (int i = 0; i < e.size(); i++) {
            if (e.get(i) instanceof Gap g && g.form() == SigElement.GapForm.ANY) {
                lengths.put(i, spread);
                break;
            }
        }
        return generator.fill(sig, lengths, Map.of());
    }

    /** {@code background} random bytes with {@code instance} inserted at {@code at}. */
    private byte[] around(byte[] instance, int at, int background) {
        byte[] out = new byte[background + instance.length];
        byte[] noise = generator.filler(background, -1);
        System.arraycopy(noise, 0, out, 0, at);
        System.arraycopy(instance, 0, out, at, instance.length);
        System.arraycopy(noise, at, out, at + instance.length, background - at);
        return out;
    }

    public PlantedFile write(String category, String name, byte[] content, Set<String> expected) {
        return write(category, name, content, expected, expected);
    }

    public PlantedFile write(String category, String name, byte[] content, Set<String> expected, Set<String> clamavExpected) {
        try {
            Path path = dir.resolve(category).resolve(name);
            Files.createDirectories(path.getParent());
            Files.write(path, content);
            PlantedFile file = new PlantedFile(path, category, Set.copyOf(expected), Set.copyOf(clamavExpected));
            files.add(file);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes signature lines as an .ndb (no blank lines, one trailing newline). */
    public static void writeNdb(Path file, List<GeneratedSignature> sigs) throws IOException {
        StringBuilder out = new StringBuilder();
        for (GeneratedSignature sig : sigs) {
            out.append(sig.ndbLine()).append('\n');
        }
        Files.writeString(file, out);
    }
}
