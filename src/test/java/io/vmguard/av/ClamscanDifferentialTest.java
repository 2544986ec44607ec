package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.av.testing.Clamscan;
import io.vmguard.av.testing.ExtraDatabases;
import io.vmguard.av.testing.GeneratedSignature;
import io.vmguard.av.testing.PlantedCorpus;
import io.vmguard.av.testing.PlantedCorpus.PlantedFile;
import io.vmguard.av.testing.SignatureGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * vmguard's engine against Debian's clamscan on generated signatures and planted files (av.md §4.3): 2600
 * ndb signatures over the 13 body-syntax kinds, their boundary cases and near-misses, logical signatures,
 * whole-file hashes, allow and ignore lists. The seed is printed; {@code -Dvmguard.avSeed=N} repeats a run.
 */
class ClamscanDifferentialTest {
    static final long SEED = Long.getLong("vmguard.avSeed", 0x5EED_A11L);
    static final int SIGNATURES = 13 * 200;

    @TempDir
    static Path work;
    static Path dbDir;
    static Path corpusDir;
    static List<GeneratedSignature> signatures;
    static List<PlantedFile> files;

    @BeforeAll
    static void generate() throws Exception {
        System.err.println("ClamscanDifferentialTest seed " + SEED + " (-Dvmguard.avSeed=" + SEED + " repeats it)");
        dbDir = Files.createDirectories(work.resolve("db"));
        corpusDir = Files.createDirectories(work.resolve("corpus"));
        SignatureGenerator generator = new SignatureGenerator(SEED);
        signatures = new ArrayList<>(generator.generate(SIGNATURES));
        PlantedCorpus corpus = new PlantedCorpus(generator, corpusDir)
                .plantEach(signatures)
                .clean(SIGNATURES / 10)
                .tricky(signatures, 3);
        signatures.addAll(corpus.tracklen("VMG.Gen", new int[] {5, 7, 8, 10}));
        PlantedCorpus.writeNdb(dbDir.resolve("generated.ndb"), signatures);
        List<PlantedFile> clean = corpus.files().stream().filter(f -> f.category().equals("clean")).toList();
        List<PlantedFile> planted = corpus.files().stream().filter(f -> f.category().equals("planted")).toList();
        ExtraDatabases extra = new ExtraDatabases(generator, corpus)
                .logical()
                .hashes(clean)
                .allowLists(planted.subList(planted.size() - 3, planted.size()))
                .ignore(signatures.get(SIGNATURES - 4).name());
        extra.writeTo(dbDir);
        files = extra.adjust(corpus.files());
    }

    @Test
    void clamscanFindsExactlyWhatTheGeneratorPlanted() throws Exception {
        Map<Path, Set<String>> found = Clamscan.require().scan(dbDir, corpusDir);
        List<String> problems = new ArrayList<>();
        for (PlantedFile file : files) {
            Set<String> got = found.get(file.path());
            if (got == null) {
                problems.add(file.path() + ": not reported by clamscan");
            } else if (!got.equals(file.clamavExpected())) {
                problems.add(corpusDir.relativize(file.path()) + ": clamscan " + new TreeSet<>(got) + ", planted "
                        + new TreeSet<>(file.clamavExpected()));
            }
        }
        if (!problems.isEmpty()) {
            fail(problems.size() + " of " + files.size() + " files differ from the generator's expectation:\n  "
                    + String.join("\n  ", problems.subList(0, Math.min(40, problems.size()))));
        }
        assertEquals(files.size(), found.size(), "clamscan reported files the generator did not write");
        long detections = found.values().stream().mapToLong(Set::size).sum();
        long flagged = found.values().stream().filter(s -> !s.isEmpty()).count();
        System.err.printf("clamscan: %d files, %d flagged, %d detections, all as planted (%d signatures)%n",
                files.size(), flagged, detections, signatures.size());
    }
}
