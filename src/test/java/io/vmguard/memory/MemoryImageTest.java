package io.vmguard.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.snapshot.SnapshotException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryImageTest {
    private static final List<GuestMemory.Range> LAYOUT = List.of(new GuestMemory.Range(0, 8 << 20),
            new GuestMemory.Range(0x1_0000_0000L, 4 << 20));

    @TempDir
    Path dir;

    @Test
    void restoredMemoryHoldsWhatWasWrittenAndZerosElsewhere() throws Exception {
        UUID id = UUID.randomUUID();
        Path file = dir.resolve("mem");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x1000, 0x1122334455667788L);
            memory.write(0x7f_fffc, new byte[] {1, 2, 3, 4}); // the last bytes of the low region
            memory.writeInt(0x1_0000_0000L + 0x20_0000, 0xcafe);
            long written = MemoryImage.write(memory, file, id);
            assertEquals(2 * 4096 + 4096, written, "only the three touched pages are written");
        }
        try (GuestMemory restored = MemoryImage.map(file, LAYOUT, id)) {
            assertEquals(0x1122334455667788L, restored.readLong(0x1000));
            assertArrayEquals(new byte[] {1, 2, 3, 4}, restored.readBytes(0x7f_fffc, 4));
            assertEquals(0xcafe, restored.readInt(0x1_0000_0000L + 0x20_0000));
            assertEquals(0, restored.readLong(0x40_0000));
        }
    }

    @Test
    void aPlainSnapshotRestoresIntoSecretMemoryByCopy() throws Exception {
        UUID id = UUID.randomUUID();
        Path file = dir.resolve("mem");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x1000, 0x1122334455667788L);
            memory.writeInt(0x1_0000_0000L + 0x20_0000, 0xcafe);
            MemoryImage.write(memory, file, id);
        }
        try (GuestMemory restored = MemoryImage.load(file, LAYOUT, id, MemoryBackend.SECRET)) {
            assertEquals(0x1122334455667788L, restored.readLong(0x1000));
            assertEquals(0xcafe, restored.readInt(0x1_0000_0000L + 0x20_0000));
            assertEquals(0, restored.readLong(0x40_0000));
            String maps = java.nio.file.Files.readString(Path.of("/proc/self/maps"));
            String start = Long.toHexString(restored.regions().getFirst().backing().address());
            assertTrue(maps.lines().anyMatch(line -> line.startsWith(start + "-") && line.contains("secretmem")),
                    "the restored RAM is a secretmem mapping");
        }
    }

    @Test
    void fileIsSparse() throws Exception {
        Path file = dir.resolve("mem");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x3000, 7);
            MemoryImage.write(memory, file, UUID.randomUUID());
        }
        assertEquals(MemoryImage.fileSize(LAYOUT), Files.size(file));
        long allocated = allocatedBytes(file);
        assertTrue(allocated < 1 << 20, "a 12 MiB guest with one written page takes " + allocated + " bytes");
    }

    @Test
    void guestWritesAfterRestoreDoNotReachTheFile() throws Exception {
        UUID id = UUID.randomUUID();
        Path file = dir.resolve("mem");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x1000, 1);
            MemoryImage.write(memory, file, id);
        }
        try (GuestMemory clone = MemoryImage.map(file, LAYOUT, id)) {
            clone.writeLong(0x1000, 2);
        }
        try (GuestMemory again = MemoryImage.map(file, LAYOUT, id)) {
            assertEquals(1, again.readLong(0x1000), "a second clone starts from the snapshot, not the first clone");
        }
    }

    @Test
    void aRestoredGuestSnapshottedAgainKeepsThePagesItNeverTouched() throws Exception {
        UUID first = UUID.randomUUID();
        UUID second = UUID.randomUUID();
        Path file = dir.resolve("mem");
        Path again = dir.resolve("mem2");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x5000, 0xabcdef);
            MemoryImage.write(memory, file, first);
        }
        try (GuestMemory restored = MemoryImage.map(file, LAYOUT, first)) {
            // Page 0x5000 is the file's, never touched in this mapping: it must not count as zero.
            restored.writeLong(0x9000, 7);
            MemoryImage.write(restored, again, second);
        }
        try (GuestMemory clone = MemoryImage.map(again, LAYOUT, second)) {
            assertEquals(0xabcdef, clone.readLong(0x5000));
            assertEquals(7, clone.readLong(0x9000));
        }
    }

    @Test
    void untouchedMemoryIsSkippedWithoutBeingRead() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT);
             TouchedPages touched = TouchedPages.open(16)) {
            org.junit.jupiter.api.Assumptions.assumeTrue(touched != null, "no /proc/self/pagemap here");
            memory.writeLong(0x1000, 1);
            MemoryImage.write(memory, dir.resolve("mem"), UUID.randomUUID());
            MemorySegment untouched = memory.regions().getFirst().backing().asSlice(0x40_0000, 0x1_0000);
            assertFalse(touched.anyTouched(untouched), "the snapshot read pages the guest never touched");
            assertTrue(touched.anyTouched(memory.regions().getFirst().backing().asSlice(0, 0x1_0000)));
        }
    }

    @Test
    void pagesWrittenThenZeroedAgainAreHoles() throws Exception {
        Path file = dir.resolve("mem");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x5000, 1);
            memory.writeLong(0x5000, 0); // touched, but all zero: no need to store it
            memory.writeLong(0x7000, 2);
            assertEquals(4096, MemoryImage.write(memory, file, UUID.randomUUID()));
        }
    }

    @Test
    void truncatedFileIsRefused() throws Exception {
        UUID id = UUID.randomUUID();
        Path file = write(id);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() - 4096);
        }
        SnapshotException error = assertThrows(SnapshotException.class, () -> MemoryImage.map(file, LAYOUT, id));
        assertTrue(error.getMessage().contains("truncated"), error.getMessage());
    }

    @Test
    void fileOfAnotherSnapshotIsRefused() throws Exception {
        Path file = write(UUID.randomUUID());
        SnapshotException error = assertThrows(SnapshotException.class, () -> MemoryImage.map(file, LAYOUT, UUID.randomUUID()));
        assertTrue(error.getMessage().contains("another snapshot"), error.getMessage());
    }

    @Test
    void fileThatIsNotAMemoryImageIsRefused() throws Exception {
        Path file = dir.resolve("junk");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(MemoryImage.fileSize(LAYOUT));
            raf.write("not a memory image".getBytes());
        }
        SnapshotException error = assertThrows(SnapshotException.class, () -> MemoryImage.map(file, LAYOUT, UUID.randomUUID()));
        assertTrue(error.getMessage().contains("bad magic"), error.getMessage());
    }

    /** What the file really occupies on disk (stat's 512-byte blocks: Java has no attribute for it). */
    private static long allocatedBytes(Path file) throws Exception {
        Process stat = new ProcessBuilder("stat", "-c", "%b", file.toString()).redirectErrorStream(true).start();
        String out = new String(stat.getInputStream().readAllBytes()).strip();
        assertEquals(0, stat.waitFor(), out);
        return Long.parseLong(out) * 512;
    }

    private Path write(UUID id) throws Exception {
        Path file = dir.resolve("mem");
        try (GuestMemory memory = GuestMemory.allocate(LAYOUT)) {
            memory.writeLong(0x1000, 42);
            MemoryImage.write(memory, file, id);
        }
        return file;
    }
}
