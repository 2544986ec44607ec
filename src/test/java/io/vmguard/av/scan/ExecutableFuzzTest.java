package io.vmguard.av.scan;

import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.av.Scanner;
import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.TestFiles;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupted ELF and PE headers (random bytes, hostile counts and offsets, truncation): inspecting and scanning
 * them never throws. The seed is printed; -Dvmguard.fuzzSeed=N replays.
 */
class ExecutableFuzzTest {
    @TempDir
    Path dir;

    @Test
    void corruptedHeadersNeverThrow() throws Exception {
        TestFiles.write(dir, "x.ndb", """
                Ep:6:EP+0:454e545259
                S:6:S1+0,8:454e545259
                Se:6:SE2:5345
                Sl:6:SL+0:4441
                PeEp:1:EP-4,8:454e5452
                PeS:1:S0+16:454e5452
                PeSl:1:SL+0:3031
                """);
        TestFiles.write(dir, "x.mdb", "512:" + "0".repeat(32) + ":Sec\n*:" + "1".repeat(32) + ":Any:73\n");
        TestFiles.write(dir, "x.ldb", "L;Engine:51-255,Target:6,EntryPoint:0-1000,NumberOfSections:1-100;0;454e545259\n");
        Scanner scanner = new Scanner(SignatureDatabase.load(List.of(dir), null));
        long seed = Long.getLong("vmguard.fuzzSeed", System.nanoTime());
        System.out.println("ExecutableFuzzTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 3000; round++) {
            byte[] data = random.nextBoolean() ? TestFiles.elf() : TestFiles.pe32("0123456789abcdefENTRY".getBytes());
            int edits = 1 + random.nextInt(8);
            for (int e = 0; e < edits; e++) {
                int at = random.nextInt(Math.min(data.length, 0x260));
                switch (random.nextInt(3)) {
                    case 0 -> data[at] = (byte) random.nextInt(256);
                    case 1 -> data[at] = (byte) 0xff;
                    default -> data[at] = 0;
                }
            }
            if (random.nextInt(4) == 0) {
                data = java.util.Arrays.copyOf(data, random.nextInt(data.length));
            }
            try {
                Executable.inspect(MemorySegment.ofArray(data));
                scanner.scan(MemorySegment.ofArray(data), true);
            } catch (RuntimeException | StackOverflowError e) {
                fail("seed " + seed + " round " + round + ": " + e, e);
            }
        }
    }
}
