package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.av.scan.Executable;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BodySignaturesTest {
    @TempDir
    Path dir;

    private Scanner scanner(String ndb, List<LoadProblem> problems) throws IOException {
        TestFiles.write(dir, "t.ndb", ndb);
        return new Scanner(SignatureDatabase.load(List.of(dir.resolve("t.ndb")), problems::add));
    }

    private static List<String> found(Scanner scanner, byte[] data) {
        return scanner.scan(MemorySegment.ofArray(data), true).stream().map(d -> d.name().replace(".UNOFFICIAL", ""))
                .sorted().toList();
    }

    @Test
    void filesOfFiveBytesOrLessAreNotScannedAsInClamscan() throws IOException {
        Scanner scanner = scanner("T.Short:0:*:41424344\n", new ArrayList<>());
        assertEquals(List.of(), scanner.scan(MemorySegment.ofArray("ABCDE".getBytes(StandardCharsets.ISO_8859_1)), true));
        assertEquals(1, scanner.scan(MemorySegment.ofArray("ABCDEF".getBytes(StandardCharsets.ISO_8859_1)), true).size());
    }

    @Test
    void aFocusedMemoryScanReportsTheOccurrenceInTheFocusEvenWhenACopyComesFirst() throws IOException {
        Scanner scanner = scanner("Eicar.Body:0:*:" + TestFiles.hex(TestFiles.EICAR) + "\n", new ArrayList<>());
        int length = TestFiles.EICAR.length();
        byte[] window = new byte[3 * 4096];
        byte[] eicar = TestFiles.EICAR.getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(eicar, 0, window, 100, length);            // a decoy in the page before the focus
        MemorySegment memory = MemorySegment.ofArray(window);
        assertEquals(List.of(), scanner.scanMemory(memory, 4096, 8192), "wholly outside the focus");

        System.arraycopy(eicar, 0, window, 5000, length);           // the one in the focus
        assertEquals(List.of(new Detection("Eicar.Body.UNOFFICIAL", 5000, "t.ndb", 5000 + length)),
                scanner.scanMemory(memory, 4096, 8192));

        System.arraycopy(eicar, 0, window, 4096 - 10, length);      // straddling into the focus also counts
        assertEquals(4096 - 10, scanner.scanMemory(memory, 4096, 8192).getFirst().offset());
    }

    @Test
    void eicarBodyIsFoundAnywhereWithItsOffset() throws IOException {
        Scanner scanner = scanner("Eicar.Body:0:*:" + TestFiles.hex(TestFiles.EICAR) + "\n", new ArrayList<>());
        byte[] padded = ("0123456789" + TestFiles.EICAR + "tail").getBytes(StandardCharsets.ISO_8859_1);
        List<Detection> d = scanner.scan(MemorySegment.ofArray(padded), false);
        assertEquals(List.of(new Detection("Eicar.Body.UNOFFICIAL", 10, "t.ndb", 10 + TestFiles.EICAR.length())), d);
    }

    @Test
    void absoluteShiftedAndEndRelativeOffsets() throws IOException {
        String ndb = """
                # comments are skipped
                At0:0:0:58354f21
                At1:0:1:58354f21
                At1Shift:0:0,1:354f2150
                At2Shift:0:0,1:4f215025
                Eof:0:EOF-4:482b482a
                EofShift:0:EOF-6,2:482b482a
                EofWrong:0:EOF-5:482b482a
                """;
        assertEquals(List.of("At0", "At1Shift", "Eof", "EofShift"), found(scanner(ndb, new ArrayList<>()), TestFiles.eicar()));
    }

    @Test
    void entryPointAndSectionOffsetsOnAnElf() throws IOException {
        String ndb = """
                Ep:6:EP+0:454e545259
                EpPlus:6:EP+5:434f4445
                EpMinus:6:EP-2,4:454e545259
                EpWrong:6:EP+1:454e545259
                S0:6:S0+0:7f454c46
                S1:6:S1+0:454e545259
                S2:6:S2+4:53454354
                InS1:6:SE1:2d74657874
                InS2NotThere:6:SE2:2d74657874
                Last:6:SL+0:4441544153454354
                AnyTarget:0:*:44415441
                PeOnly:1:*:44415441
                """;
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = scanner(ndb, problems);
        assertEquals(List.of(), problems);
        assertEquals(List.of("AnyTarget", "Ep", "EpMinus", "EpPlus", "InS1", "Last", "S0", "S1", "S2"), found(scanner, TestFiles.elf()));
        byte[] prefixed = new byte[TestFiles.ELF_SIZE + 1];
        System.arraycopy(TestFiles.elf(), 0, prefixed, 1, TestFiles.ELF_SIZE);
        assertEquals(List.of("AnyTarget"), found(scanner, prefixed), "an ELF after a junk byte is not an ELF");
    }

    @Test
    void elfEntryPointOfDebiansBinTrueIsTheFileOffsetClamavGives() throws IOException {
        Path bin = Path.of("/bin/true");
        // ClamAV 1.4 reports EP = 9168 for Debian 12's /bin/true (coreutils 9.1-1, 35664 bytes).
        assumeTrue(Files.exists(bin) && Files.size(bin) == 35664, "not Debian 12's /bin/true");
        byte[] data = Files.readAllBytes(bin);
        Executable exe = Executable.inspect(MemorySegment.ofArray(data));
        assertEquals(9168, exe.layout().entryPoint());
        assertEquals(0, exe.layout().sections().getFirst().offset(), "S0 is the NULL section");
        String ndb = "True.EP:6:EP+0:31ed\nTrue.S15:6:S15+256:31ed\nTrue.SE15:6:SE15:31ed\nTrue.SL:6:SL+1:2e7368\n";
        assertEquals(List.of("True.EP", "True.S15", "True.SE15", "True.SL"), found(scanner(ndb, new ArrayList<>()), data));
    }

    @Test
    void peEntryPointAndSections() throws IOException {
        byte[] pe = TestFiles.pe32("0123456789abcdefENTRY-HERE".getBytes(StandardCharsets.ISO_8859_1));
        Executable exe = Executable.inspect(MemorySegment.ofArray(pe));
        assertEquals(0x210, exe.layout().entryPoint());
        String ndb = "Pe.Ep:1:EP+0:454e545259\nPe.S0:1:S0+16:454e545259\nElf.Ep:6:EP+0:454e545259\n";
        assertEquals(List.of("Pe.Ep", "Pe.S0"), found(scanner(ndb, new ArrayList<>()), pe));
    }

    @Test
    void executableOffsetsNeedAnExecutableTarget() throws IOException {
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = scanner("Good:0:*:454e545259\nBad:0:EP+0:454e545259\nBad2:0:S1+0:454e545259\n", problems);
        assertEquals(List.of(2, 3), problems.stream().map(LoadProblem::line).toList());
        assertTrue(problems.stream().allMatch(p -> p.message().contains("Invalid offset type for target")), problems.toString());
        assertEquals(List.of("Good"), found(scanner, TestFiles.elf()));
    }

    @Test
    void unsupportedTargetsAreSkippedWithOneSummary() throws IOException {
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = scanner("Html1:3:*:454e545259\nHtml2:3:*:454e545259\nAscii:7:*:454e545259\nFuture:20:*:454e545259\n"
                + "Ok:0:*:454e545259\n", problems);
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).message().startsWith("2 signatures skipped: target type 3"), problems.toString());
        assertTrue(problems.get(1).message().startsWith("1 signature skipped: target type 7"), problems.toString());
        assertEquals(List.of("Ok"), found(scanner, TestFiles.elf()));
    }
}
