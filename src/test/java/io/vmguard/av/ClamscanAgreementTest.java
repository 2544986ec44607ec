package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.av.testing.Clamscan;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loader and the layouts against {@code clamscan -z} (ClamAV 1.4.6) on the same databases and files: the
 * same set of signature names per file. Skipped when clamscan is not installed.
 */
class ClamscanAgreementTest {
    @TempDir
    Path dir;

    @Test
    void sameDetectionsAsClamscanOnElfPeAndEicar() throws Exception {
        Clamscan clamscan = Clamscan.require();
        Path db = Files.createDirectory(dir.resolve("db"));
        Path corpus = Files.createDirectory(dir.resolve("corpus"));
        byte[] pe = TestFiles.pe32("0123456789abcdefENTRY-HERE and more".getBytes(StandardCharsets.ISO_8859_1));
        byte[] section = java.util.Arrays.copyOfRange(pe, 0x200, 0x400);
        TestFiles.write(corpus, "elf", TestFiles.elf());
        TestFiles.write(corpus, "pe.exe", pe);
        TestFiles.write(corpus, "eicar.com", TestFiles.eicar());
        TestFiles.write(corpus, "text.txt", "ENTRYCODE DATASECT EICAR-STANDARD");
        TestFiles.write(db, "v.ndb", """
                Elf.Ep:6:EP+0:454e545259
                Elf.EpShift:6:EP-2,4:454e545259
                Elf.S1:6:S1+0:454e545259
                Elf.S2:6:S2+4:53454354
                Elf.SL:6:SL+0:4441544153454354
                Elf.S0:6:S0+0:7f454c46
                Pe.Ep:1:EP+0:454e545259
                Pe.S0:1:S0+16:454e545259
                Pe.SL:1:SL+0:30313233
                Any.Entry:0:*:454e545259
                Any.Eof:0:EOF-4:482b482a
                Any.Abs:0:1,2:354f2150
                Wild:0:*:454e??5259{-3}434f
                """);
        TestFiles.write(db, "v.ldb", """
                L.Both;Engine:51-255,Target:0;0&1;58354f21;4549434152
                L.Count;Engine:51-255,Target:0;(0|1|2|3)>3,4;2d53;2d41;2d54;2d46
                L.NotFive;Engine:51-255,Target:0;(0|1|2|3)>4,4;2d53;2d41;2d54;2d46
                L.Neg;Engine:51-255,Target:0;0&1=0;58354f21;ffffffff
                L.Elf;Engine:51-255,Target:6,NumberOfSections:3-3;0;454e545259
                L.Pe;Engine:51-255,Target:1,EntryPoint:528-528;0;454e545259
                L.NoPrec;Engine:51-255,Target:0;0&1|2;ffff;454e545259;4441
                """);
        TestFiles.write(db, "v.hdb", TestFiles.EICAR_MD5 + ":68:H.Eicar\n");
        TestFiles.write(db, "v.mdb", "512:" + TestFiles.digest("MD5", section) + ":M.Section\n");

        SortedSet<String> clamav = clamscan.findings(db, corpus);
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(db), null));
        SortedSet<String> ours = Clamscan.findings(scanner, corpus);
        assertEquals(clamav, ours);
        assertTrue(ours.size() > 20, ours.toString());
    }

}
