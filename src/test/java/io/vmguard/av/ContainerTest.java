package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.av.db.CvdHeaderAccess;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContainerTest {
    @TempDir
    Path dir;

    private static Map<String, byte[]> members() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("COPYING", "GPL\n".getBytes(StandardCharsets.ISO_8859_1));
        m.put("vmg.info", "ClamAV-VDB:x:1:3:216:X:X:vmguard:0\n".getBytes(StandardCharsets.ISO_8859_1));
        m.put("vmg.hdb", (TestFiles.EICAR_MD5 + ":68:Eicar.Hash\n").getBytes(StandardCharsets.ISO_8859_1));
        m.put("vmg.ndb", ("Eicar.Body:0:*:" + TestFiles.hex("EICAR-STANDARD") + "\nBroken:0\n").getBytes(StandardCharsets.ISO_8859_1));
        m.put("vmg.ldb", ("Eicar.Logic;Engine:51-255,Target:0;0&1;" + TestFiles.hex("X5O") + ";" + TestFiles.hex("H+H*") + "\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        m.put("vmg.cfg", "DOCUMENT:0x0\n".getBytes(StandardCharsets.ISO_8859_1));
        return m;
    }

    private static List<String> names(List<Detection> detections) {
        return detections.stream().map(Detection::name).sorted().toList();
    }

    @Test
    void anUnsignedCudLoadsWithUnofficialNames() throws IOException {
        Path cud = TestFiles.write(dir, "vmg.cud", TestFiles.container(TestFiles.gzip(TestFiles.tar(members())), null, "X"));
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = SignatureDatabase.load(List.of(cud), problems::add);
        assertEquals(3, db.signatureCount());
        List<Detection> found = new Scanner(db).scan(MemorySegment.ofArray(TestFiles.eicar()), true);
        assertEquals(List.of("Eicar.Body.UNOFFICIAL", "Eicar.Hash.UNOFFICIAL", "Eicar.Logic.UNOFFICIAL"), names(found));
        assertTrue(found.stream().anyMatch(d -> d.database().equals("vmg.cud/vmg.ndb")), found.toString());
        assertEquals(List.of("vmg.cud/vmg.ndb:2", "vmg.cud"), problems.stream()
                .map(p -> p.line() > 0 ? p.file() + ":" + p.line() : p.file()).toList(), problems.toString());
        assertTrue(problems.get(1).message().contains("vmg.cfg"), "unused members are named");
    }

    @Test
    void anIgnoreListAfterTheSignaturesInAContainerStillDropsThemByName() throws IOException {
        Map<String, byte[]> m = members();
        m.put("vmg.ign2", "Eicar.Hash\nEicar.Body\n".getBytes(StandardCharsets.ISO_8859_1));
        Path cud = TestFiles.write(dir, "vmg.cud", TestFiles.container(TestFiles.gzip(TestFiles.tar(m)), null, "X"));
        SignatureDatabase db = SignatureDatabase.load(List.of(cud), null);
        assertEquals(List.of("Eicar.Logic.UNOFFICIAL"), names(new Scanner(db).scan(MemorySegment.ofArray(TestFiles.eicar()), true)));
        assertEquals(1, db.signatureCount());
    }

    @Test
    void puaMembersAreLeftOutOnRequest() throws IOException {
        Map<String, byte[]> m = members();
        m.put("vmg.hdu", (TestFiles.EICAR_SHA256 + ":68:Pua.Eicar\n").getBytes(StandardCharsets.ISO_8859_1));
        Path cud = TestFiles.write(dir, "vmg.cud", TestFiles.container(TestFiles.gzip(TestFiles.tar(m)), null, "X"));
        assertEquals(4, SignatureDatabase.load(List.of(cud), null).signatureCount());
        List<LoadProblem> problems = new ArrayList<>();
        assertEquals(3, SignatureDatabase.load(List.of(cud), problems::add, false).signatureCount());
        assertTrue(problems.stream().anyMatch(p -> p.message().contains("vmg.hdu")), problems.toString());
    }

    @Test
    void aCorruptedHeaderMd5IsRefused() throws IOException {
        byte[] body = TestFiles.gzip(TestFiles.tar(members()));
        Path cud = TestFiles.write(dir, "vmg.cud", TestFiles.container(body, "0123456789abcdef0123456789abcdef", "X"));
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = SignatureDatabase.load(List.of(cud), problems::add);
        assertEquals(0, db.signatureCount());
        assertEquals(1, problems.size());
        assertTrue(problems.getFirst().message().contains("does not match the archive"), problems.toString());

        byte[] flipped = TestFiles.container(body, null, "X");
        flipped[flipped.length - 20] ^= 1;
        Files.write(cud, flipped);
        assertEquals(0, SignatureDatabase.load(List.of(cud), null).signatureCount(), "a changed body no longer matches its MD5");
    }

    @Test
    void aCvdMustCarryTalossSignature() throws IOException {
        Path cvd = TestFiles.write(dir, "vmg.cvd", TestFiles.container(TestFiles.gzip(TestFiles.tar(members())), null, "X"));
        List<LoadProblem> problems = new ArrayList<>();
        assertEquals(0, SignatureDatabase.load(List.of(cvd), problems::add).signatureCount());
        assertTrue(problems.getFirst().message().contains("digital signature"), problems.toString());
    }

    @Test
    void talossSignatureOfARealCvdHeaderVerifies() throws Exception {
        // The header of ClamAV's unit_tests/input/freshclam_testfiles/test-6.cvd, signed by Talos.
        String header = "ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:3e249e00076b0b15bb54ced37be880c7:Dou6ICRT5HwLTtLNYToHsMoLnt8tdcQOEECp"
                + "/INsusRs9Rz4JGWU27W76btwjszaKIHnfgfyFjHzlsYJxTFZoeYFLyaC1nd+SNSWaMyKeNvzcTrtxKbc5WKs04ORp923pFkqymRhFNrRupa8tVyrp9XN9Wbd"
                + "xVJKZNHzB6npPPj:micasnyd:1624412045";
        assertTrue(CvdHeaderAccess.signedByTalos(header));
        assertTrue(!CvdHeaderAccess.signedByTalos(header.replace(":3e249e00", ":3e249e01")), "another MD5 does not verify");
    }

    @Test
    void aCldIsAPlainTar() throws IOException {
        Path cld = TestFiles.write(dir, "vmg.cld", TestFiles.container(TestFiles.tar(members()), "00000000000000000000000000000000", "X"));
        SignatureDatabase db = SignatureDatabase.load(List.of(cld), null);
        assertEquals(3, db.signatureCount());
        assertEquals(List.of("Eicar.Body", "Eicar.Hash", "Eicar.Logic"),
                names(new Scanner(db).scan(MemorySegment.ofArray(TestFiles.eicar()), true)), "official: no suffix");
    }

    @Test
    void aTruncatedArchiveKeepsWhatWasReadAndSaysSo() throws IOException {
        byte[] tar = TestFiles.tar(members());
        byte[] cut = java.util.Arrays.copyOf(tar, 512 * 5 + 100);
        Path cud = TestFiles.write(dir, "vmg.cud", TestFiles.container(TestFiles.gzip(cut), null, "X"));
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase.load(List.of(cud), problems::add);
        assertTrue(problems.stream().anyMatch(p -> p.message().startsWith("cannot unpack")), problems.toString());
    }

    @Test
    void aCudBuiltBySigtoolLoads() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/sigtool")), "sigtool is not installed");
        Path build = Files.createDirectory(dir.resolve("build"));
        TestFiles.write(build, "COPYING", "test\n");
        TestFiles.write(build, "vmg.ndb", "Eicar.Body:0:*:" + TestFiles.hex("EICAR-STANDARD") + "\n");
        TestFiles.write(build, "vmg.hdb", TestFiles.EICAR_MD5 + ":68:Eicar.Hash\n");
        ProcessBuilder pb = new ProcessBuilder("sigtool", "--build=vmg.cud", "--unsigned", "--cvd-version=1").directory(build.toFile())
                .redirectErrorStream(true);
        pb.environment().put("SIGNDUSER", "vmguard");
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assumeTrue(p.exitValue() == 0 && Files.exists(build.resolve("vmg.cud")), "sigtool could not build: " + output);
        Path cud = Files.move(build.resolve("vmg.cud"), dir.resolve("vmg.cud"));
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = SignatureDatabase.load(List.of(cud), problems::add);
        assertEquals(2, db.signatureCount(), problems.toString());
        assertEquals(List.of("Eicar.Body.UNOFFICIAL", "Eicar.Hash.UNOFFICIAL"),
                names(new Scanner(db).scan(MemorySegment.ofArray(TestFiles.eicar()), true)));
    }
}
