package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.av.TestFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vmguard scan}, run in-process: clamscan's lines, summary and exit statuses. */
class ScanCommandTest {
    @TempDir
    Path dir;
    private Path db;
    private Path corpus;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream savedOut;
    private PrintStream savedErr;

    @BeforeEach
    void setUp() throws Exception {
        savedOut = System.out;
        savedErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        db = Files.createDirectory(dir.resolve("db"));
        TestFiles.write(db, "t.hdb", TestFiles.EICAR_MD5 + ":68:Eicar-Test-Signature\n");
        TestFiles.write(db, "t.ndb", "Eicar.Body:0:*:" + TestFiles.hex("EICAR-STANDARD") + "\n");
        corpus = Files.createDirectory(dir.resolve("corpus"));
        TestFiles.write(corpus, "a-eicar.com", TestFiles.eicar());
        TestFiles.write(corpus, "b-clean.txt", "clean");
        Path sub = Files.createDirectory(corpus.resolve("sub"));
        TestFiles.write(sub, "deep-eicar.com", TestFiles.eicar());
    }

    @AfterEach
    void restore() {
        System.setOut(savedOut);
        System.setErr(savedErr);
    }

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void cleanFilesPrintOkAndExitZero() {
        assertEquals(0, Main.execute("scan", "--no-summary", "-d", db.toString(), corpus.resolve("b-clean.txt").toString()));
        assertEquals(corpus.resolve("b-clean.txt") + ": OK\n", stdout());
        assertEquals("", stderr());
    }

    @Test
    void foundFilesPrintTheSignatureAndExitOne() {
        assertEquals(1, Main.execute("scan", "-d", db.toString(), corpus.toString()));
        List<String> lines = stdout().lines().toList();
        assertEquals(corpus.resolve("a-eicar.com") + ": Eicar-Test-Signature.UNOFFICIAL FOUND", lines.get(0));
        assertEquals(corpus.resolve("b-clean.txt") + ": OK", lines.get(1));
        assertFalse(stdout().contains("deep-eicar"), "without -r a directory is read one level deep, as clamscan");
        assertTrue(lines.contains("----------- SCAN SUMMARY -----------"), stdout());
        assertTrue(lines.contains("Known viruses: 2"), stdout());
        assertTrue(lines.contains("Scanned files: 2"), stdout());
        assertTrue(lines.contains("Infected files: 1"), stdout());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("Data scanned: ")), stdout());
        assertTrue(lines.stream().anyMatch(l -> l.matches("Time: \\d+\\.\\d{3} sec \\(\\d+ m \\d+ s\\)")), stdout());
    }

    @Test
    void recursiveAllMatchReportsEverySignature() {
        assertEquals(1, Main.execute("scan", "-r", "-z", "--no-summary", "-d", db.resolve("t.hdb").toString(), "-d",
                db.resolve("t.ndb").toString(), corpus.toString()));
        List<String> lines = stdout().lines().toList();
        Path deep = corpus.resolve("sub").resolve("deep-eicar.com");
        assertTrue(lines.contains(deep + ": Eicar-Test-Signature.UNOFFICIAL FOUND"), stdout());
        assertTrue(lines.contains(deep + ": Eicar.Body.UNOFFICIAL FOUND"), stdout());
        assertEquals(5, lines.size(), stdout());
    }

    @Test
    void jsonIsOneObjectPerFileThenTheSummary() throws Exception {
        assertEquals(1, Main.execute("scan", "--json", "--stats", "-d", db.toString(), corpus.toString()));
        ObjectMapper mapper = new ObjectMapper();
        List<JsonNode> objects = stdout().lines().map(l -> {
            try {
                return mapper.readTree(l);
            } catch (Exception e) {
                throw new AssertionError(l, e);
            }
        }).toList();
        assertEquals(3, objects.size(), stdout());
        assertEquals("FOUND", objects.get(0).path("status").asText());
        assertEquals("Eicar-Test-Signature.UNOFFICIAL", objects.get(0).path("detections").get(0).path("name").asText());
        assertEquals(-1, objects.get(0).path("detections").get(0).path("offset").asLong());
        assertEquals("OK", objects.get(1).path("status").asText());
        JsonNode summary = objects.get(2).path("summary");
        assertEquals(2, summary.path("scanned_files").asInt());
        assertEquals(1, summary.path("infected_files").asInt());
        assertTrue(summary.has("load_seconds") && summary.has("matcher_bytes") && summary.has("mb_per_second"), summary.toString());
    }

    @Test
    void statsAddLoadTimeMemoryAndThroughput() {
        assertEquals(0, Main.execute("scan", "--stats", "-d", db.toString(), corpus.resolve("b-clean.txt").toString()));
        assertTrue(stdout().contains("Load time: ") && stdout().contains("Matcher memory: ") && stdout().contains("Throughput: "), stdout());
    }

    @Test
    void aMissingDatabaseIsOneLineAndExitTwo() {
        assertEquals(2, Main.execute("scan", "-d", dir.resolve("nope").toString(), corpus.toString()));
        assertEquals(1, stderr().lines().count(), stderr());
        assertTrue(stderr().startsWith("vmguard scan: cannot load database ") && stderr().contains("nope"), stderr());
        assertFalse(stderr().contains("Exception"), stderr());
        assertEquals("", stdout());
    }

    @Test
    void aMissingOrUnreadableFileIsAnErrorThatWinsOverFound() throws Exception {
        Path locked = TestFiles.write(corpus, "c-locked.bin", "secret");
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("---------"));
        boolean root = Files.isReadable(locked);
        assertEquals(2, Main.execute("scan", "--no-summary", "-d", db.toString(), corpus.resolve("a-eicar.com").toString(),
                dir.resolve("absent").toString(), locked.toString()));
        List<String> lines = stdout().lines().toList();
        assertEquals(corpus.resolve("a-eicar.com") + ": Eicar-Test-Signature.UNOFFICIAL FOUND", lines.get(0));
        assertEquals(dir.resolve("absent") + ": No such file or directory. ERROR", lines.get(1));
        if (!root) {
            assertEquals(locked + ": Access denied. ERROR", lines.get(2));
        }
        assertFalse(stderr().contains("Exception"), stderr());
    }

    @Test
    void databaseProblemsGoToStderrAndTheScanGoesOn() throws Exception {
        TestFiles.write(db, "bad.ndb", "broken line\n");
        assertEquals(0, Main.execute("scan", "--no-summary", "-d", db.toString(), corpus.resolve("b-clean.txt").toString()));
        assertEquals("vmguard scan: bad.ndb:1: expected Name:Target:Offset:HexSignature[:MinFL[:MaxFL]], found 1 fields\n", stderr());
    }

    @Test
    void puaDatabasesLoadOnlyWithDetectPua() throws Exception {
        Path pua = Files.createDirectory(dir.resolve("pua"));
        TestFiles.write(pua, "t.hdu", TestFiles.EICAR_MD5 + ":68:PUA.Eicar\n");
        String file = corpus.resolve("a-eicar.com").toString();
        assertEquals(0, Main.execute("scan", "--no-summary", "-d", pua.toString(), file));
        assertTrue(stderr().contains("t.hdu: PUA signatures"), stderr());
        assertEquals(1, Main.execute("scan", "--no-summary", "--detect-pua", "-d", pua.toString(), file));
        assertTrue(stdout().endsWith(file + ": PUA.Eicar.UNOFFICIAL FOUND\n"), stdout());
    }

    @Test
    void noDatabaseOptionIsAUsageError() {
        assertEquals(2, Main.execute("scan", corpus.toString()));
        assertTrue(stderr().contains("Missing required option"), stderr());
    }
}
