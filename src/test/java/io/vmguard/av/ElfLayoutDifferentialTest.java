package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.av.match.FileLayout;
import io.vmguard.av.scan.Executable;
import java.lang.foreign.MemorySegment;
import io.vmguard.av.testing.Clamscan;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EP, Sx, SEx and SL signatures made from the system's own ELF programs with vmguard's layout: clamscan must
 * find exactly the same ones, so vmguard's entry point and sections are ClamAV's on real binaries. Skipped
 * without clamscan.
 */
class ElfLayoutDifferentialTest {
    @TempDir
    Path dir;

    @Test
    void entryPointAndSectionsAgreeWithClamscanOnSystemPrograms() throws Exception {
        Clamscan clamscan = Clamscan.require();
        List<Path> programs;
        try (Stream<Path> bin = Files.list(Path.of("/usr/bin"))) {
            programs = bin.filter(p -> Files.isRegularFile(p) && !Files.isSymbolicLink(p)).filter(ElfLayoutDifferentialTest::smallElf)
                    .sorted().limit(12).toList();
        }
        assumeTrue(programs.size() >= 4, "too few ELF programs in /usr/bin");
        Path db = Files.createDirectory(dir.resolve("db"));
        Path corpus = Files.createDirectory(dir.resolve("corpus"));
        Random random = new Random(11);
        StringBuilder ndb = new StringBuilder();
        int n = 0;
        for (int f = 0; f < programs.size(); f++) {
            byte[] data = Files.readAllBytes(programs.get(f));
            Files.write(corpus.resolve("p" + f), data);
            Executable exe = Executable.inspect(MemorySegment.ofArray(data));
            FileLayout layout = exe.layout();
            List<FileLayout.Section> sections = layout.sections();
            if (layout.entryPoint() >= 0) {
                int k = random.nextInt(16);
                n = add(ndb, n, "EP+" + k, data, layout.entryPoint() + k);
            }
            for (int t = 0; t < 4 && !sections.isEmpty(); t++) {
                int i = 1 + random.nextInt(sections.size() - 1);
                FileLayout.Section s = sections.get(i);
                if (s.size() < 24 || s.offset() + s.size() > data.length) {
                    continue;
                }
                int k = random.nextInt(8);
                n = add(ndb, n, "S" + i + "+" + k, data, s.offset() + k);
                n = add(ndb, n, "SE" + i, data, s.offset() + 8 + random.nextInt((int) Math.min(s.size() - 16, 4096)));
            }
            FileLayout.Section last = sections.isEmpty() ? null : sections.getLast();
            if (last != null && last.offset() + 16 < data.length) {
                n = add(ndb, n, "SL+2", data, last.offset() + 2);
            }
        }
        TestFiles.write(db, "e.ndb", ndb.toString());

        SortedSet<String> clamav = clamscan.findings(db, corpus);
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(db), null));
        SortedSet<String> ours = Clamscan.findings(scanner, corpus);
        assertEquals(clamav, ours, "programs " + programs + "\n" + ndb);
        assertTrue(ours.size() >= programs.size(), ours.toString());
    }

    /** A signature of 8 bytes at {@code at} with this offset, when the bytes are distinctive enough. */
    private static int add(StringBuilder ndb, int n, String offset, byte[] data, long at) {
        if (at < 0 || at + 8 > data.length) {
            return n;
        }
        long distinct = java.util.stream.IntStream.range(0, 8).map(i -> data[(int) at + i]).distinct().count();
        if (distinct < 4) {
            return n;
        }
        ndb.append("E").append(n).append(":6:").append(offset).append(':')
                .append(HexFormat.of().formatHex(data, (int) at, (int) at + 8)).append('\n');
        return n + 1;
    }

    private static boolean smallElf(Path p) {
        try {
            if (Files.size(p) > 400_000 || Files.size(p) < 4096) {
                return false;
            }
            try (var in = Files.newInputStream(p)) {
                byte[] magic = in.readNBytes(4);
                return magic.length == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
            }
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
