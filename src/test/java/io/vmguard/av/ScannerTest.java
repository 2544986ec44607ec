package io.vmguard.av;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScannerTest {
    @TempDir
    Path dir;

    private Scanner scanner(String name, String content) throws IOException {
        TestFiles.write(dir, name, content);
        return new Scanner(SignatureDatabase.load(List.of(dir), null));
    }

    private static List<String> names(List<Detection> detections) {
        return detections.stream().map(Detection::name).sorted().toList();
    }

    @Test
    void eicarIsFoundByHashAndByBodyInAFile() throws IOException {
        TestFiles.write(dir, "x.hdb", TestFiles.EICAR_MD5 + ":68:Eicar-Test-Signature\n");
        Scanner scanner = scanner("x.ndb", "Eicar.Body:0:*:" + TestFiles.hex(TestFiles.EICAR) + "\n");
        Path file = TestFiles.write(dir, "eicar.com", TestFiles.eicar());
        assertEquals(List.of("Eicar-Test-Signature.UNOFFICIAL", "Eicar.Body.UNOFFICIAL"), names(scanner.scanFile(file, true)));
        assertEquals(1, scanner.scanFile(file, false).size());
        Path clean = TestFiles.write(dir, "clean.txt", "nothing to see");
        assertEquals(List.of(), scanner.scanFile(clean, true));
    }

    @Test
    void largeFilesAreMappedAndMatchedAtTheirEnd() throws IOException {
        Scanner scanner = scanner("x.ndb", "Tail:0:EOF-68:" + TestFiles.hex(TestFiles.EICAR) + "\nAny:0:*:" + TestFiles.hex("EICAR-STANDARD") + "\n");
        byte[] big = new byte[3 * 1024 * 1024 + 68];
        System.arraycopy(TestFiles.eicar(), 0, big, big.length - 68, 68);
        Path file = TestFiles.write(dir, "big.bin", big);
        List<Detection> found = scanner.scanFile(file, true);
        assertEquals(List.of("Any.UNOFFICIAL", "Tail.UNOFFICIAL"), names(found));
        assertTrue(found.stream().allMatch(d -> d.offset() >= big.length - 68), found.toString());
    }

    @Test
    void emptyFilesScanClean() throws IOException {
        Scanner scanner = scanner("x.ndb", "Any:0:*:454e545259\n");
        assertEquals(List.of(), scanner.scanFile(TestFiles.write(dir, "empty", new byte[0]), true));
    }

    @Test
    void memoryWindowsUseOnlyRawByteSignatures() throws IOException {
        String ndb = """
                Raw:0:*:454e545259
                ElfRaw:6:*:434f4445
                Anchored:0:0:454e545259
                ElfEp:6:EP+0:454e545259
                """;
        TestFiles.write(dir, "x.ldb", """
                LRaw;Engine:51-255,Target:0;0&1;454e545259;434f4445
                LSize;Engine:51-255,Target:0,FileSize:1-100000;0;454e545259
                LAnchored;Engine:51-255,Target:0;0;0:454e545259
                """);
        TestFiles.write(dir, "x.hdb", TestFiles.digest("MD5", "ENTRYCODE".getBytes(StandardCharsets.ISO_8859_1)) + ":9:Hash\n");
        Scanner scanner = scanner("x.ndb", ndb);
        assertTrue(scanner.scansMemory());
        MemorySegment window = MemorySegment.ofArray("ENTRYCODE".getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(List.of("ElfRaw.UNOFFICIAL", "LRaw.UNOFFICIAL", "Raw.UNOFFICIAL"), names(scanner.scanMemory(window)));
        assertEquals(List.of("Anchored.UNOFFICIAL", "Hash.UNOFFICIAL", "LAnchored.UNOFFICIAL", "LRaw.UNOFFICIAL", "LSize.UNOFFICIAL",
                "Raw.UNOFFICIAL"), names(scanner.scan(window, true)), "as a file: not an ELF, so no ELF signature");
    }

    @Test
    void aDatabaseWithoutRawSignaturesDoesNotScanMemory() throws IOException {
        Scanner scanner = scanner("x.ndb", "Anchored:0:0:454e545259\nElfEp:6:EP+0:454e545259\n");
        assertFalse(scanner.scansMemory());
        assertEquals(List.of(), scanner.scanMemory(MemorySegment.ofArray(TestFiles.elf())));
    }

    @Test
    void manyThreadsScanWithOneScanner() throws Exception {
        StringBuilder ndb = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            ndb.append("Sig").append(i).append(":0:*:").append(TestFiles.hex("marker-" + i + "!")).append('\n');
        }
        Scanner scanner = scanner("x.ndb", ndb.toString());
        List<byte[]> inputs = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            inputs.add(("junk junk marker-" + i + "! junk").getBytes(StandardCharsets.ISO_8859_1));
        }
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int round = 0; round < 5; round++) {
                for (int i = 0; i < inputs.size(); i++) {
                    int n = i;
                    results.add(pool.submit(() -> names(scanner.scan(MemorySegment.ofArray(inputs.get(n)), true))
                            .equals(List.of("Sig" + n + ".UNOFFICIAL"))));
                }
            }
            for (Future<Boolean> r : results) {
                assertTrue(r.get());
            }
        }
    }

    @Test
    void aDirectoryOfDatabasesLoadsIgnoreListsFirst() throws IOException {
        TestFiles.write(dir, "a.ndb", "Dropped:0:*:454e545259\nKept:0:*:434f4445\n");
        TestFiles.write(dir, "z.ign2", "Dropped\n");
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(dir), null));
        assertEquals(List.of("Kept.UNOFFICIAL"), names(scanner.scan(MemorySegment.ofArray(TestFiles.elf()), true)));
        assertTrue(Files.exists(dir.resolve("z.ign2")));
    }
}
