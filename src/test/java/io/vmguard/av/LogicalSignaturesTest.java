package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogicalSignaturesTest {
    @TempDir
    Path dir;

    private Scanner scanner(String ldb, List<LoadProblem> problems) throws IOException {
        TestFiles.write(dir, "t.ldb", ldb);
        return new Scanner(SignatureDatabase.load(List.of(dir.resolve("t.ldb")), problems::add));
    }

    private static List<String> found(Scanner scanner, byte[] data) {
        return scanner.scan(MemorySegment.ofArray(data), true).stream().map(d -> d.name().replace(".UNOFFICIAL", ""))
                .sorted().toList();
    }

    // EICAR holds "-S", "-A", "-T", "-F" once each (2d53 2d41 2d54 2d46).
    @Test
    void expressionsWithAndOrAndCounts() throws IOException {
        String ldb = """
                Both;Engine:51-255,Target:0;0&1;58354f21;4549434152
                Either;Engine:51-255,Target:0;0|1;ffffffff;4549434152
                Missing;Engine:51-255,Target:0;0&1;ffffffff;4549434152
                Exactly1;Engine:51-255,Target:0;0=1;2d53
                MoreThan1;Engine:51-255,Target:0;0>1;2d53
                LessThan2;Engine:51-255,Target:0;0<2;2d53
                Absent;Engine:51-255,Target:0;0&1=0;58354f21;ffffffff
                Four;Engine:51-255,Target:0;(0|1|2|3)>3,4;2d53;2d41;2d54;2d46
                FourNotFive;Engine:51-255,Target:0;(0|1|2|3)>4,4;2d53;2d41;2d54;2d46
                Distinct;Engine:51-255,Target:0;(0|1|2|3)=3,3;2d53;2d41;2d54;ffff
                DistinctTooFew;Engine:51-255,Target:0;(0|1|2|3)=3,4;2d53;2d41;2d54;ffff
                NoPrecedence;Engine:51-255,Target:0;0&1|2;ffff;58354f21;2d53
                """;
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = scanner(ldb, problems);
        assertEquals(List.of(), problems);
        assertEquals(List.of("Absent", "Both", "Distinct", "Either", "Exactly1", "Four", "LessThan2"), found(scanner, TestFiles.eicar()),
                "0&1|2 is 0&(1|2) in ClamAV, so NoPrecedence does not match without subsignature 0");
    }

    @Test
    void aTargetZeroSignatureTrueWithNothingMatchedFiresOnEveryFileAsInClamscan() throws IOException {
        // clamscan also evaluates target-0 logical signatures with all counts zero: "1=0" fires even on a file
        // holding subsignature 1 (checked with clamscan 1.4.6); for an ELF target it does not.
        String ldb = """
                NotOne;Engine:51-255,Target:0;1=0;ffffff;454e545259
                NotOneElf;Engine:51-255,Target:6;1=0;ffffff;454e545259
                """;
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = scanner(ldb, problems);
        assertEquals(List.of("NotOne"), found(scanner, TestFiles.elf()));
        assertEquals(List.of("NotOne"), found(scanner, TestFiles.eicar()));
        assertEquals(List.of(), scanner.scanMemory(MemorySegment.ofArray(TestFiles.elf())), "not on raw memory");
    }

    @Test
    void subsignatureOffsetsAndOptions() throws IOException {
        String ldb = """
                Offsets;Engine:51-255,Target:0;0&1;0:58354f21;EOF-4:482b482a
                WrongOffset;Engine:51-255,Target:0;0;1:58354f21
                NoCase;Engine:81-255,Target:0;0;6569636172::i
                CaseMatters;Engine:81-255,Target:0;0;6569636172
                """;
        List<LoadProblem> problems = new ArrayList<>();
        assertEquals(List.of("NoCase", "Offsets"), found(scanner(ldb, problems), TestFiles.eicar()));
        assertEquals(List.of(), problems);
    }

    @Test
    void targetDescriptionConditions() throws IOException {
        String ldb = """
                ElfEp;Engine:51-255,Target:6,EntryPoint:256-256;0;454e545259
                ElfEpWrong;Engine:51-255,Target:6,EntryPoint:0-255;0;454e545259
                ElfSections;Engine:51-255,Target:6,NumberOfSections:3-3;0;454e545259
                Size;Engine:51-255,Target:0,FileSize:768-768;0;454e545259
                SizeWrong;Engine:51-255,Target:0,FileSize:1-767;0;454e545259
                PeOnly;Engine:51-255,Target:1;0;454e545259
                Future;Engine:300-400,Target:0;0;454e545259
                """;
        List<LoadProblem> problems = new ArrayList<>();
        assertEquals(List.of("ElfEp", "ElfSections", "Size"), found(scanner(ldb, problems), TestFiles.elf()));
        assertEquals(List.of(), problems);
    }

    @Test
    void pcreMacroByteCompareAndFuzzySubsignaturesSkipTheSignature() throws IOException {
        String ldb = """
                Pcre;Engine:81-255,Target:0;0&1;454e545259;0/ENTRY/
                Macro;Engine:81-255,Target:0;0&1;454e545259;${1-2}3$
                ByteCmp;Engine:81-255,Target:0;0&1;454e545259;0(>>4#ib2#=1234)
                Fuzzy;Engine:150-255,Target:0;0;fuzzy_img#af2ad01ed42993c7
                Pcre2;Engine:81-255,Target:0;0&1;454e545259;0/CODE/i
                Kept;Engine:81-255,Target:0;0;454e545259
                """;
        List<LoadProblem> problems = new ArrayList<>();
        assertEquals(List.of("Kept"), found(scanner(ldb, problems), TestFiles.elf()));
        List<String> messages = problems.stream().map(LoadProblem::message).toList();
        assertEquals(4, messages.size(), messages.toString());
        assertTrue(messages.get(0).startsWith("2 signatures skipped: PCRE subsignatures are not supported (first at line 1)"), messages.toString());
        assertTrue(messages.stream().anyMatch(m -> m.contains("macro")) && messages.stream().anyMatch(m -> m.contains("byte-compare"))
                && messages.stream().anyMatch(m -> m.contains("fuzzy")), messages.toString());
    }

    @Test
    void malformedLogicalSignaturesAreReportedByLine() throws IOException {
        String ldb = """
                Ok;Engine:51-255,Target:0;0;454e545259
                TooFew;Engine:51-255,Target:0;0
                CountMismatch;Engine:51-255,Target:0;0&1;454e545259
                EngineNotFirst;Target:0,Engine:51-255;0;454e545259
                NoTarget;Engine:51-255;0;454e545259
                NewAttrNoEngine;Target:0,FileSize:1-2;0;454e545259
                EpOnAny;Engine:51-255,Target:0,EntryPoint:1-2;0;454e545259
                BadExpr;Engine:51-255,Target:0;(0&1;454e545259;454e545259
                TrailingSemicolon;Engine:51-255,Target:0;0;454e545259;
                BadOption;Engine:51-255,Target:0;0;454e545259::q
                BadHex;Engine:51-255,Target:0;0;45zz
                EpSubsigOnAny;Engine:51-255,Target:0;0;EP+0:454e545259
                """;
        List<LoadProblem> problems = new ArrayList<>();
        Scanner scanner = scanner(ldb, problems);
        assertEquals(List.of(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), problems.stream().map(LoadProblem::line).toList(), problems.toString());
        assertEquals(List.of("Ok"), found(scanner, TestFiles.elf()));
    }

    @Test
    void tooManySubsignaturesAreRefused() throws IOException {
        StringBuilder line = new StringBuilder("Big;Engine:51-255,Target:0;");
        for (int i = 0; i < 65; i++) {
            line.append(i == 0 ? "" : "|").append(i);
        }
        for (int i = 0; i < 65; i++) {
            line.append(";454e545259");
        }
        List<LoadProblem> problems = new ArrayList<>();
        scanner(line + "\n", problems);
        assertEquals(1, problems.size());
        assertEquals(1, problems.getFirst().line());
    }
}
