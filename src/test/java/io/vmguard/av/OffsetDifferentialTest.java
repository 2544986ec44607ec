package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.av.testing.Clamscan;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.SortedSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * .ndb offsets at their edges ({@code n}, {@code n,m}, {@code EOF-n}, {@code EOF-n,m}, one byte either side):
 * vmguard and {@code clamscan -z} must agree on every (file, signature) pair. Skipped without clamscan; the
 * seed is printed (-Dvmguard.diffSeed=N replays).
 */
class OffsetDifferentialTest {
    @TempDir
    Path dir;

    @Test
    void sameVerdictsAsClamscanAtOffsetEdges() throws Exception {
        Clamscan clamscan = Clamscan.require();
        long seed = Long.getLong("vmguard.diffSeed", System.nanoTime());
        System.out.println("OffsetDifferentialTest seed " + seed);
        Random random = new Random(seed);
        Path db = Files.createDirectory(dir.resolve("db"));
        Path corpus = Files.createDirectory(dir.resolve("corpus"));
        StringBuilder ndb = new StringBuilder();
        int sig = 0;
        for (int f = 0; f < 30; f++) {
            byte[] data = new byte[200 + random.nextInt(300)];
            random.nextBytes(data);
            data[0] = 0;   // never taken for text
            data[1] = (byte) 0xff;
            Files.write(corpus.resolve("f" + f), data);
            for (int k = 0; k < 12; k++) {
                int length = 4 + random.nextInt(5);
                int at = 2 + random.nextInt(data.length - length - 2);
                String hex = HexFormat.of().formatHex(data, at, at + length);
                long fromEnd = data.length - at;
                int jitter = random.nextInt(3) - 1;
                int shift = random.nextInt(4);
                String offset = switch (random.nextInt(5)) {
                    case 0 -> String.valueOf(at + jitter);
                    case 1 -> (at - shift + jitter) + "," + shift;
                    case 2 -> "EOF-" + (fromEnd + jitter);
                    case 3 -> "EOF-" + (fromEnd + shift + jitter) + "," + shift;
                    default -> "*";
                };
                if (offset.startsWith("-") || offset.startsWith("EOF--")) {
                    continue;
                }
                ndb.append("O").append(sig++).append(":0:").append(offset).append(':').append(hex).append('\n');
            }
        }
        TestFiles.write(db, "o.ndb", ndb.toString());

        SortedSet<String> clamav = clamscan.findings(db, corpus);

        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(db), problems::add));
        assertEquals(List.of(), problems);
        SortedSet<String> ours = Clamscan.findings(scanner, corpus);
        String disagreement = Clamscan.disagreement(clamav, ours);
        assertEquals("", disagreement.isEmpty() ? "" : "seed " + seed + "\n" + disagreement);
        assertTrue(ours.size() > 100, "too few detections to compare: " + ours.size());
    }
}
