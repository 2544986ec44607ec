package io.vmguard.av.testing;

import io.vmguard.av.testing.PlantedCorpus.PlantedFile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The database kinds beside .ndb, each with files that exercise it: logical signatures (.ldb: and, or,
 * counts, distinct counts, negation, an anchored subsignature), whole-file hashes (.hdb MD5, .hsb SHA1 and
 * SHA256, fixed size and {@code *}), allow lists (.fp MD5, .sfp SHA1/SHA256 of planted files) and an ignore
 * list (.ign2 naming one planted signature). {@link #adjust} rewrites the other files' expectations for the
 * allow and ignore entries.
 */
public final class ExtraDatabases {
    private static final HexFormat HEX = HexFormat.of();
    private static final String TDB = "Engine:81-255,Target:0";

    private final SignatureGenerator generator;
    private final PlantedCorpus corpus;
    private final List<String> ldb = new ArrayList<>();
    private final List<String> hdb = new ArrayList<>();
    private final List<String> hsb = new ArrayList<>();
    private final List<String> fp = new ArrayList<>();
    private final List<String> sfp = new ArrayList<>();
    private final List<String> ign2 = new ArrayList<>();
    private final Set<Path> allowed = new HashSet<>();
    private final Set<String> ignored = new HashSet<>();
    private int ldbCount;

    public ExtraDatabases(SignatureGenerator generator, PlantedCorpus corpus) {
        this.generator = generator;
        this.corpus = corpus;
    }

    /** A logical signature: its subsignatures and the expression as a predicate over their match counts. */
    private record Logical(String name, List<GeneratedSignature> subsigs, java.util.function.Predicate<int[]> rule) {}

    private final List<Logical> logicals = new ArrayList<>();

    /**
     * Logical signatures over fresh subsignatures, and files holding instances of them in various numbers;
     * every file's expectation is then worked out against every logical signature (counts can satisfy more than
     * the one a file was made for).
     */
    public ExtraDatabases logical() {
        SyntaxKind[] simple = {SyntaxKind.LITERAL, SyntaxKind.ANY_BYTE, SyntaxKind.NIBBLE, SyntaxKind.ALT_BYTE, SyntaxKind.NEGATION};
        SyntaxKind[] any = SyntaxKind.values();
        for (int round = 0; round < 3; round++) {
            GeneratedSignature a = generator.next(any[(round * 5) % any.length]);
            GeneratedSignature b = generator.next(any[(round * 5 + 3) % any.length]);
            logicalSig("And", "0&1", n -> n[0] > 0 && n[1] > 0, a, b);
            logicalSig("Or", "0|1", n -> n[0] > 0 || n[1] > 0, a, b);
            plant("and-or-" + round + "-both", a, b);
            plant("and-or-" + round + "-first", a);
            plant("and-or-" + round + "-second", b);

            // Counted subsignatures: kinds whose instance is exactly one match (no parts to combine).
            GeneratedSignature c = generator.next(simple[round % simple.length]);
            GeneratedSignature d = generator.next(simple[(round + 2) % simple.length]);
            logicalSig("Count", "0>1", n -> n[0] > 1, c);
            logicalSig("Distinct", "(0|1)>1,2", n -> n[0] + n[1] > 1 && (n[0] > 0 ? 1 : 0) + (n[1] > 0 ? 1 : 0) >= 2, c, d);
            logicalSig("Exactly", "0=2", n -> n[0] == 2, c);
            logicalSig("Not", "0&1=0", n -> n[0] > 0 && n[1] == 0, a, c);
            plant("count-" + round + "-once", c);
            plant("count-" + round + "-twice", c, c);
            plant("count-" + round + "-thrice", c, c, c);
            plant("count-" + round + "-both", c, d);
            plant("not-" + round + "-with-second", a, c);
        }
        for (Pending p : pending) {
            Set<String> expected = new HashSet<>();
            for (Logical l : logicals) {
                int[] counts = new int[l.subsigs().size()];
                for (int i = 0; i < counts.length; i++) {
                    GeneratedSignature sub = l.subsigs().get(i);
                    counts[i] = (int) p.parts().stream().filter(x -> x == sub).count();
                }
                if (l.rule().test(counts)) {
                    expected.add(l.name());
                }
            }
            corpus.write("ldb", p.name() + ".bin", p.content(), expected);
        }
        pending.clear();
        return this;
    }

    private record Pending(String name, byte[] content, List<GeneratedSignature> parts) {}

    private final List<Pending> pending = new ArrayList<>();

    /** Whole-file hashes of some clean files, in every form ClamAV accepts. */
    public ExtraDatabases hashes(List<PlantedFile> cleanFiles) throws IOException {
        String[][] forms = {{"MD5", "hdb", "size"}, {"MD5", "hdb", "*"}, {"SHA-1", "hsb", "size"}, {"SHA-256", "hsb", "size"},
                {"SHA-256", "hsb", "*"}, {"SHA-1", "hsb", "*"}};
        for (int i = 0; i < forms.length && i < cleanFiles.size(); i++) {
            PlantedFile file = cleanFiles.get(i);
            byte[] content = Files.readAllBytes(file.path());
            String name = "VMG.Hash." + forms[i][0].replace("-", "") + (forms[i][2].equals("*") ? "Star" : "") + "." + i;
            // A * size needs MinFL 73 (av.md §1.1).
            String line = digest(forms[i][0], content) + ":" + (forms[i][2].equals("*") ? "*" : content.length) + ":" + name
                    + (forms[i][2].equals("*") ? ":73" : "");
            (forms[i][1].equals("hdb") ? hdb : hsb).add(line);
            expect(file.path(), name);
        }
        return this;
    }

    /** Allow-lists planted files by MD5 (.fp) and SHA1/SHA256 (.sfp): they must come out clean. */
    public ExtraDatabases allowLists(List<PlantedFile> plantedFiles) throws IOException {
        String[] algorithms = {"MD5", "SHA-1", "SHA-256"};
        for (int i = 0; i < algorithms.length && i < plantedFiles.size(); i++) {
            PlantedFile file = plantedFiles.get(i);
            byte[] content = Files.readAllBytes(file.path());
            String line = digest(algorithms[i], content) + ":" + content.length + ":VMG.Allow." + i;
            (i == 0 ? fp : sfp).add(line);
            allowed.add(file.path());
        }
        return this;
    }

    /** Ignores one signature by name (.ign2): every file it alone would flag comes out clean. */
    public ExtraDatabases ignore(String signatureName) {
        ign2.add(signatureName);
        ignored.add(signatureName);
        return this;
    }

    /** The expectations of {@code files} with the allow and ignore lists applied. */
    public List<PlantedFile> adjust(List<PlantedFile> files) {
        List<PlantedFile> out = new ArrayList<>();
        for (PlantedFile f : files) {
            Set<String> expected = new HashSet<>(f.expected());
            Set<String> clamav = new HashSet<>(f.clamavExpected());
            expected.addAll(extraExpected.getOrDefault(f.path(), Set.of()));
            clamav.addAll(extraExpected.getOrDefault(f.path(), Set.of()));
            expected.removeAll(ignored);
            clamav.removeAll(ignored);
            if (allowed.contains(f.path())) {
                expected.clear();
                clamav.clear();
            }
            out.add(new PlantedFile(f.path(), f.category(), Set.copyOf(expected), Set.copyOf(clamav)));
        }
        return out;
    }

    public void writeTo(Path dbDir) throws IOException {
        Map<String, List<String>> files = new LinkedHashMap<>();
        files.put("extra.ldb", ldb);
        files.put("extra.hdb", hdb);
        files.put("extra.hsb", hsb);
        files.put("extra.fp", fp);
        files.put("extra.sfp", sfp);
        files.put("extra.ign2", ign2);
        for (var entry : files.entrySet()) {
            if (!entry.getValue().isEmpty()) {
                Files.writeString(dbDir.resolve(entry.getKey()), String.join("\n", entry.getValue()) + "\n");
            }
        }
    }

    private final Map<Path, Set<String>> extraExpected = new LinkedHashMap<>();

    private void expect(Path file, String name) {
        extraExpected.computeIfAbsent(file, k -> new HashSet<>()).add(name);
    }

    private void logicalSig(String what, String expression, java.util.function.Predicate<int[]> rule, GeneratedSignature... subsigs) {
        String name = "VMG.Ldb." + what + "." + ldbCount++;
        StringBuilder line = new StringBuilder(name).append(';').append(TDB).append(';').append(expression);
        for (GeneratedSignature s : subsigs) {
            line.append(';').append(s.hex());
        }
        ldb.add(line.toString());
        logicals.add(new Logical(name, List.of(subsigs), rule));
    }

    /** A file holding an instance of each of {@code parts}, in order, in random padding. */
    private void plant(String fileName, GeneratedSignature... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(generator.filler(generator.random().nextInt(512), -1));
        for (GeneratedSignature part : parts) {
            out.writeBytes(generator.instantiate(part));
            // Farther apart than any generated gap, so instances never combine into another's match.
            out.writeBytes(generator.filler(1200 + generator.random().nextInt(512), -1));
        }
        pending.add(new Pending(fileName, out.toByteArray(), List.of(parts)));
    }

    private static String digest(String algorithm, byte[] content) {
        try {
            return HEX.formatHex(MessageDigest.getInstance(algorithm).digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
