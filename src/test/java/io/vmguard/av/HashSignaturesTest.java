package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashSignaturesTest {
    @TempDir
    Path dir;

    private SignatureDatabase load(String name, String content, List<LoadProblem> problems) throws IOException {
        TestFiles.write(dir, name, content);
        return SignatureDatabase.load(List.of(dir.resolve(name)), problems::add);
    }

    private static List<String> names(List<Detection> detections) {
        return detections.stream().map(Detection::name).toList();
    }

    @Test
    void md5Sha1AndSha256HashesDetectEicarByTheirLength() throws IOException {
        byte[] eicar = TestFiles.eicar();
        String db = TestFiles.EICAR_MD5 + ":68:Eicar.MD5\n"
                + TestFiles.digest("SHA-1", eicar) + ":68:Eicar.SHA1\n"
                + TestFiles.EICAR_SHA256 + ":68:Eicar.SHA256\n";
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = new Scanner(load("x.hdb", db, problems));
        assertEquals(List.of(), problems);
        List<Detection> found = scanner.scan(MemorySegment.ofArray(eicar), true);
        assertEquals(List.of("Eicar.MD5.UNOFFICIAL", "Eicar.SHA1.UNOFFICIAL", "Eicar.SHA256.UNOFFICIAL"),
                names(found).stream().sorted().toList());
        assertTrue(found.stream().allMatch(d -> d.offset() == -1 && d.database().equals("x.hdb")));
        assertEquals(1, scanner.scan(MemorySegment.ofArray(eicar), false).size(), "first match only");
    }

    @Test
    void aHashMatchesOnlyTheExactFileAndSize() throws IOException {
        Scanner scanner = new Scanner(load("x.hsb", TestFiles.EICAR_SHA256 + ":68:Eicar\n" + TestFiles.EICAR_MD5 + ":69:WrongSize\n", new ArrayList<>()));
        assertEquals(List.of("Eicar.UNOFFICIAL"), names(scanner.scan(MemorySegment.ofArray(TestFiles.eicar()), true)));
        assertEquals(List.of(), scanner.scan(MemorySegment.ofArray((TestFiles.EICAR + "\n").getBytes(StandardCharsets.ISO_8859_1)), true));
    }

    @Test
    void wildcardSizeNeedsMinFl73() throws IOException {
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = new Scanner(load("x.hdb", TestFiles.EICAR_MD5 + ":*:Star:73\n" + TestFiles.EICAR_MD5 + ":*:NoLevel\n"
                + TestFiles.EICAR_MD5 + ":*:LowLevel:72\n", problems));
        assertEquals(List.of("Star.UNOFFICIAL"), names(scanner.scan(MemorySegment.ofArray(TestFiles.eicar()), true)));
        assertEquals(List.of(2, 3), problems.stream().map(LoadProblem::line).toList());
        assertTrue(problems.getFirst().message().contains("MinFL"), problems.toString());
    }

    @Test
    void functionalityLevelsOutsideTheEnginesAreSkippedSilently() throws IOException {
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = load("x.hdb", TestFiles.EICAR_MD5 + ":68:Future:999\n" + TestFiles.EICAR_MD5 + ":68:Past:1:100\n"
                + TestFiles.EICAR_MD5 + ":68:Now:100:300\n", problems);
        assertEquals(List.of(), problems);
        assertEquals(1, db.signatureCount());
    }

    @Test
    void peSectionHashesMatchPe32Sections() throws IOException {
        byte[] content = "section payload".getBytes(StandardCharsets.ISO_8859_1);
        byte[] pe = TestFiles.pe32(content);
        byte[] section = java.util.Arrays.copyOfRange(pe, 0x200, 0x400);
        String db = "512:" + TestFiles.digest("MD5", section) + ":Section.MD5\n"
                + "*:" + TestFiles.digest("SHA-256", section) + ":Section.Any:73\n"
                + "513:" + TestFiles.digest("MD5", section) + ":Section.WrongSize\n";
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = new Scanner(load("x.mdb", db, problems));
        assertEquals(List.of(), problems);
        assertEquals(List.of("Section.Any.UNOFFICIAL", "Section.MD5.UNOFFICIAL"),
                names(scanner.scan(MemorySegment.ofArray(pe), true)).stream().sorted().toList());
        assertEquals(List.of(), scanner.scan(MemorySegment.ofArray(section), true), "not a PE: no sections to hash");
        byte[] plus = TestFiles.pe32plus(content);
        assertEquals(List.of("Section.Any.UNOFFICIAL", "Section.MD5.UNOFFICIAL"),
                names(scanner.scan(MemorySegment.ofArray(plus), true)).stream().sorted().toList(), "PE32+ too, as clamscan 1.4.6");
    }

    @Test
    void allowListsMakeAMatchingFileClean() throws IOException {
        TestFiles.write(dir, "x.ndb", "Eicar.Body:0:*:" + TestFiles.hex("EICAR-STANDARD") + "\n");
        TestFiles.write(dir, "x.hdb", TestFiles.EICAR_MD5 + ":68:Eicar.Hash\n");
        byte[] other = ("padding " + TestFiles.EICAR).getBytes(StandardCharsets.ISO_8859_1);
        Scanner before = new Scanner(SignatureDatabase.load(List.of(dir), null));
        assertEquals(2, before.scan(MemorySegment.ofArray(TestFiles.eicar()), true).size());

        TestFiles.write(dir, "allow.fp", TestFiles.EICAR_MD5 + ":68:Eicar is fine\n");
        Scanner fp = new Scanner(SignatureDatabase.load(List.of(dir), null));
        assertEquals(List.of(), fp.scan(MemorySegment.ofArray(TestFiles.eicar()), true));
        assertEquals(List.of("Eicar.Body.UNOFFICIAL"), names(fp.scan(MemorySegment.ofArray(other), true)), "only that file");

        java.nio.file.Files.delete(dir.resolve("allow.fp"));
        TestFiles.write(dir, "allow.sfp", TestFiles.EICAR_SHA256 + ":*:Eicar is fine:73\n");
        Scanner sfp = new Scanner(SignatureDatabase.load(List.of(dir), null));
        assertEquals(List.of(), sfp.scan(MemorySegment.ofArray(TestFiles.eicar()), false));
    }

    @Test
    void ignoreListsDropSignaturesByNameOrByTheMd5OfTheirLine() throws IOException {
        String line1 = "Eicar.A:0:*:" + TestFiles.hex("EICAR");
        String line2 = "Eicar.B:0:*:" + TestFiles.hex("STANDARD");
        String line3 = "Eicar.C:0:*:" + TestFiles.hex("ANTIVIRUS");
        TestFiles.write(dir, "x.ndb", line1 + "\n" + line2 + "\n" + line3 + "\n");
        TestFiles.write(dir, "x.ign2", "Eicar.A\n" + "Eicar.B:" + TestFiles.digest("MD5", line2.getBytes(StandardCharsets.ISO_8859_1)) + "\n"
                + "Eicar.C:" + TestFiles.digest("MD5", "some older line".getBytes(StandardCharsets.ISO_8859_1)) + "\n");
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(dir), null));
        assertEquals(List.of("Eicar.C.UNOFFICIAL"), names(scanner.scan(MemorySegment.ofArray(TestFiles.eicar()), true)),
                "A by name, B by its line's MD5; C's entry names a line that changed");
    }

    @Test
    void namesFromPlainFilesGetTheUnofficialSuffix() throws IOException {
        Scanner scanner = new Scanner(load("x.hdb", TestFiles.EICAR_MD5 + ":68:Eicar-Test-Signature\n", new ArrayList<>()));
        assertEquals("Eicar-Test-Signature.UNOFFICIAL", scanner.scan(MemorySegment.ofArray(TestFiles.eicar()), false).getFirst().name());
    }
}
