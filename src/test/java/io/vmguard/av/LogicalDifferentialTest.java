package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.av.testing.Clamscan;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SortedSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random logical signatures (expressions with &amp;, |, groups, =X, &gt;X, &lt;X and ,Y over up to five
 * subsignatures) and files holding each subsignature 0 to 3 times: vmguard and {@code clamscan -z} must agree on
 * every (file, signature) pair. Skipped without clamscan; the seed is printed (-Dvmguard.diffSeed=N replays).
 */
class LogicalDifferentialTest {
    private static final String[] TOKENS = {"QZK", "WJX", "VHY", "PBM", "GFT"};

    @TempDir
    Path temp;

    @Test
    void sameVerdictsAsClamscanOnRandomLogicalSignatures() throws Exception {
        Clamscan clamscan = Clamscan.require();
        long seed = Long.getLong("vmguard.diffSeed", System.nanoTime());
        System.out.println("LogicalDifferentialTest seed " + seed);
        Random random = new Random(seed);
        // -Dvmguard.diffKeep=DIR keeps the databases and files for a look with clamscan.
        Path dir = System.getProperty("vmguard.diffKeep") != null ? Files.createDirectories(Path.of(System.getProperty("vmguard.diffKeep"))) : temp;
        Path db = Files.createDirectory(dir.resolve("db"));
        Path corpus = Files.createDirectory(dir.resolve("corpus"));
        StringBuilder ldb = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            String expression = expression(random, 0);
            int subsigs = maxIndex(expression) + 1;
            ldb.append("D").append(i).append(";Engine:51-255,Target:0;").append(expression);
            for (int s = 0; s < subsigs; s++) {
                ldb.append(';').append(TestFiles.hex(TOKENS[s]));
            }
            ldb.append('\n');
        }
        TestFiles.write(db, "d.ldb", ldb.toString());
        for (int f = 0; f < 60; f++) {
            List<String> pieces = new ArrayList<>();
            for (String token : TOKENS) {
                int n = random.nextInt(4);
                for (int k = 0; k < n; k++) {
                    pieces.add(token);
                }
            }
            java.util.Collections.shuffle(pieces, random);
            // Binary filler: a text file would also be scanned normalised (lower-cased) by clamscan.
            StringBuilder content = new StringBuilder("\0\u00ff\0\u00ff");
            for (String piece : pieces) {
                content.append(piece).append("\0\u00ff\u0001".repeat(1 + random.nextInt(3)));
            }
            TestFiles.write(corpus, "f" + f, content.toString());
        }

        SortedSet<String> clamav = clamscan.findings(db, corpus);

        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(db), problems::add));
        assertEquals(List.of(), problems);
        SortedSet<String> ours = Clamscan.findings(scanner, corpus);
        String disagreement = Clamscan.disagreement(clamav, ours);
        assertEquals("", disagreement.isEmpty() ? "" : "seed " + seed + "\n" + disagreement + "\n" + ldb);
        assertTrue(ours.size() > 100, "too few detections to compare: " + ours.size());
    }

    /** Forms ClamAV parses: subsignature leaves with optional counts; operators; groups with optional counts. */
    private static String expression(Random random, int depth) {
        String left = operand(random, depth);
        if (depth < 3 && random.nextInt(3) > 0) {
            return left + (random.nextBoolean() ? "&" : "|") + expression(random, depth + 1);
        }
        return left;
    }

    private static String operand(Random random, int depth) {
        if (depth < 2 && random.nextInt(3) == 0) {
            String inner = operand(random, depth + 1) + (random.nextBoolean() ? "&" : "|") + expression(random, depth + 1);
            String group = "(" + inner + ")";
            if (random.nextBoolean()) {
                group += count(random) + (random.nextInt(3) == 0 ? "," + (1 + random.nextInt(3)) : "");
            }
            return group;
        }
        String leaf = String.valueOf(random.nextInt(TOKENS.length));
        return random.nextInt(3) == 0 ? leaf + count(random) : leaf;
    }

    private static String count(Random random) {
        return "=><".charAt(random.nextInt(3)) + String.valueOf(random.nextInt(4));
    }

    private static int maxIndex(String expression) {
        int max = 0;
        for (int i = 0; i < expression.length(); i++) {
            char c = expression.charAt(i);
            // Subsignature indexes are the digits not right after a count operator or a comma.
            if (Character.isDigit(c) && (i == 0 || "=<>,".indexOf(expression.charAt(i - 1)) < 0)) {
                max = Math.max(max, c - '0');
            }
        }
        return max;
    }
}
