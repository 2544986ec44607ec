package io.vmguard.av.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The benchmark's inputs (av.md §2.6): a wildcard set (every syntax kind but plain literals, cycling) and a
 * set of 16-byte literals, both as .ndb, as YARA rules and as Hyperscan regexes; a corpus of random bytes and
 * one of ELF files from /usr/lib concatenated in path order (deterministic on one system).
 */
public final class BenchInputs {
    private BenchInputs() {}

    /**
     * A signature set in the three engines' languages; {@code yaraSkipped}: signatures YARA 4.2 cannot express;
     * {@code hyperscanSkipped}: signatures left out of the Hyperscan set (see {@link #wildcardSet}).
     */
    public record SignatureSet(String name, int count, Path ndb, Path yara, Path hyperscan, int yaraSkipped,
                               int hyperscanSkipped) {}

    /**
     * The wildcard set. {@code hyperscanLongGaps} false leaves the {@code {n>=128}} signatures out of the
     * Hyperscan set: its compiler spends about 50 s on 1000 of them alone (bounded repeats of 128-1024 bytes,
     * measured on 2 loaded cores), and with all 8333 of the 100k set it had not finished after 9 minutes
     * (3.3 GB), when it was stopped.
     */
    public static SignatureSet wildcardSet(Path dir, int count, long seed, boolean hyperscanLongGaps) throws IOException {
        return write(dir, "wildcard", new SignatureGenerator(seed, "VMG.Bench.W").generateWildcard(count),
                hyperscanLongGaps ? Set.of() : Set.of(SyntaxKind.LONG_GAP));
    }

    public static SignatureSet literalSet(Path dir, int count, long seed) throws IOException {
        return write(dir, "literal", new SignatureGenerator(seed + 1, "VMG.Bench.L").generateLiteral(count, 16), Set.of());
    }

    private static SignatureSet write(Path dir, String name, List<GeneratedSignature> sigs, Set<SyntaxKind> notForHyperscan)
            throws IOException {
        Files.createDirectories(dir);
        Path ndb = dir.resolve(name + ".ndb");
        Path yara = dir.resolve(name + ".yar");
        Path hs = dir.resolve(name + ".hs");
        PlantedCorpus.writeNdb(ndb, sigs);
        int skipped = 0;
        int hyperscanSkipped = 0;
        StringBuilder rules = new StringBuilder();
        StringBuilder regexes = new StringBuilder();
        for (int i = 0; i < sigs.size(); i++) {
            GeneratedSignature sig = sigs.get(i);
            Optional<String> hex = sig.yaraHex();
            if (hex.isPresent()) {
                rules.append("rule s").append(i).append(" { strings: $a = { ").append(hex.get()).append(" } condition: $a }\n");
            } else {
                skipped++;
            }
            if (notForHyperscan.contains(sig.kind())) {
                hyperscanSkipped++;
            } else {
                regexes.append(sig.regex()).append('\n');
            }
        }
        Files.writeString(yara, rules);
        Files.writeString(hs, regexes);
        return new SignatureSet(name, sigs.size(), ndb, yara, hs, skipped, hyperscanSkipped);
    }

    /** {@code bytes} of seeded random data. */
    public static Path randomCorpus(Path file, long bytes, long seed) throws IOException {
        Random random = new Random(seed);
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long done = 0; done < bytes; done += chunk.length) {
                random.nextBytes(chunk);
                out.write(chunk, 0, (int) Math.min(chunk.length, bytes - done));
            }
        }
        return file;
    }

    /** What went into the ELF corpus. */
    public record ElfCorpus(Path file, int elfFiles, String first, String last) {}

    /**
     * ELF files under {@code root} (regular files, not symlinks, starting with 0x7f 'E' 'L' 'F'), in path order,
     * concatenated whole until {@code bytes}; the last one is cut.
     */
    public static ElfCorpus elfCorpus(Path file, Path root, long bytes) throws IOException {
        List<Path> elves = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    .map(Path::toString).sorted().map(Path::of)
                    .filter(BenchInputs::isElf)
                    .forEachOrdered(elves::add);
        }
        long done = 0;
        int used = 0;
        byte[] buffer = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (Path elf : elves) {
                if (done >= bytes) {
                    break;
                }
                used++;
                try (InputStream in = Files.newInputStream(elf)) {
                    int n;
                    while (done < bytes && (n = in.read(buffer, 0, (int) Math.min(buffer.length, bytes - done))) > 0) {
                        out.write(buffer, 0, n);
                        done += n;
                    }
                }
            }
        }
        if (done < bytes) {
            throw new IOException("only " + done + " bytes of ELF files under " + root);
        }
        return new ElfCorpus(file, used, elves.getFirst().toString(), elves.get(used - 1).toString());
    }

    private static boolean isElf(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            return Arrays.equals(in.readNBytes(4), new byte[] {0x7f, 'E', 'L', 'F'});
        } catch (IOException | UncheckedIOException e) {
            return false; // unreadable: not part of the corpus
        }
    }
}
