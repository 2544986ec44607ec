package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MalformedDatabaseTest {
    @TempDir
    Path dir;

    private List<LoadProblem> problems(String name, String content, int expectedSignatures) throws IOException {
        TestFiles.write(dir, name, content);
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = SignatureDatabase.load(List.of(dir.resolve(name)), problems::add);
        assertEquals(expectedSignatures, db.signatureCount(), problems.toString());
        assertEquals(problems, db.problems());
        for (LoadProblem p : problems) {
            assertEquals(name, p.file());
            assertTrue(!p.message().contains("\n") && !p.message().isBlank(), p.toString());
        }
        return problems;
    }

    private static List<Integer> lines(List<LoadProblem> problems) {
        return problems.stream().map(LoadProblem::line).toList();
    }

    @Test
    void everyKindOfBadHashLineIsReportedWithItsLine() throws IOException {
        String hdb = String.join("\n",
                TestFiles.EICAR_MD5 + ":68:Good1",
                TestFiles.EICAR_MD5 + ":68",                       // 2: too few fields
                TestFiles.EICAR_MD5 + ":68:Name:1:2:3",            // 3: too many
                TestFiles.EICAR_MD5 + ":sixty:Name",               // 4: size not a number
                TestFiles.EICAR_MD5 + ":0:Name",                   // 5: size 0
                "44d88612fea8a8f36de82e1278abb02:68:Name",         // 6: 31 hex digits
                "zzd88612fea8a8f36de82e1278abb02f:68:Name",        // 7: not hex
                TestFiles.EICAR_MD5 + ":68:",                      // 8: empty name
                TestFiles.EICAR_MD5 + ":68:Name:x",                // 9: MinFL not a number
                TestFiles.EICAR_MD5 + ":*:Name",                   // 10: * without MinFL
                TestFiles.EICAR_MD5 + ":4294967295:Name",          // 11: size too large
                TestFiles.EICAR_MD5 + ":68:Good2",
                "");
        assertEquals(List.of(2, 3, 4, 5, 6, 7, 8, 9, 10, 11), lines(problems("x.hdb", hdb, 2)));
    }

    @Test
    void everyKindOfBadNdbLineIsReportedWithItsLine() throws IOException {
        String ndb = String.join("\n",
                "Good1:0:*:454e545259",
                "NoHex:0:*",                          // 2: too few fields
                "Many:0:*:4142:1:2:3",                // 3: too many
                ":0:*:454e545259",                    // 4: empty name
                "Target:x:*:454e545259",              // 5: target not a number
                "Offset:0:EOFF-3:454e545259",         // 6: bad offset
                "Ep:0:EP+0:454e545259",               // 7: EP on target 0
                "Hex:0:*:45zz",                       // 8: bad hex
                "Odd:0:*:454",                        // 9: odd number of digits
                "Level:0:*:454e545259:abc",           // 10: MinFL not a number
                "Star:0:*:41*",                       // 11: a part too short
                "Vi:1:VI:454e545259",                 // 12: VI not supported
                "Good2:0:*:454e545259:1:999");
        assertEquals(List.of(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), lines(problems("x.ndb", ndb, 2)));
    }

    @Test
    void badIgnoreLinesAreReported() throws IOException {
        List<LoadProblem> problems = problems("x.ign2", "Good\nName:notanmd5\n:0123456789abcdef0123456789abcdef\na:b:c:d\n", 0);
        assertEquals(List.of(2, 3, 4), lines(problems));
    }

    @Test
    void overlongLinesAreSkippedNotLoadedWhole() throws IOException {
        String ndb = "Good:0:*:454e545259\nLong:0:*:" + "41".repeat(40_000) + "\nGood2:0:*:454e545259\n";
        List<LoadProblem> problems = problems("x.ndb", ndb, 2);
        assertEquals(List.of(2), lines(problems));
        assertTrue(problems.getFirst().message().contains("longer than"), problems.toString());
    }

    @Test
    void aFileFullOfErrorsListsAHundredAndCountsTheRest() throws IOException {
        String ndb = "broken\n".repeat(250) + "Good:0:*:454e545259\n";
        List<LoadProblem> problems = problems("x.ndb", ndb, 1);
        assertEquals(101, problems.size());
        assertEquals("150 more malformed lines not listed", problems.getLast().message());
    }

    @Test
    void otherFilesAreIgnoredWithANoteAndCrlfAndCommentsAreFine() throws IOException {
        TestFiles.write(dir, "readme.txt", "hello");
        TestFiles.write(dir, "x.cbc", "bytecode");
        TestFiles.write(dir, "x.ndb", "# comment\r\nGood:0:*:454e545259\r\n\r\n");
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = SignatureDatabase.load(List.of(dir), problems::add);
        assertEquals(1, db.signatureCount());
        assertEquals(List.of("readme.txt", "x.cbc"), problems.stream().map(LoadProblem::file).sorted().toList());
        assertEquals(1, new Scanner(db).scan(MemorySegment.ofArray(TestFiles.elf()), true).size());
    }

    @Test
    void aMissingDatabasePathIsAnError() {
        org.junit.jupiter.api.Assertions.assertThrows(NoSuchFileException.class,
                () -> SignatureDatabase.load(List.of(dir.resolve("absent.ndb")), null));
    }

    @Test
    void aCorruptContainerIsOneProblem() throws IOException {
        TestFiles.write(dir, "a.cvd", "not a container");
        TestFiles.write(dir, "b.cud", TestFiles.container(new byte[] {1, 2, 3}, null, "X"));
        TestFiles.write(dir, "c.ndb", "Good:0:*:454e545259\n");
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase db = SignatureDatabase.load(List.of(dir), problems::add);
        assertEquals(1, db.signatureCount());
        assertEquals(List.of("a.cvd", "b.cud"), problems.stream().map(LoadProblem::file).toList(), problems.toString());
    }
}
