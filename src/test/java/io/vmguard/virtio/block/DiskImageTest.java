package io.vmguard.virtio.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskImageTest {
    @TempDir
    Path dir;

    private Path image(int bytes) throws IOException {
        Path file = dir.resolve("disk.img");
        Files.write(file, new byte[bytes]);
        return file;
    }

    @Test
    void aMissingFileIsNamed() {
        Path missing = dir.resolve("nope.img");
        IOException e = assertThrows(IOException.class, () -> DiskImage.open(new DiskConfig(missing, false)));
        assertEquals("disk image " + missing + " not found", e.getMessage());
    }

    @Test
    void aDirectoryIsNotADisk() {
        IOException e = assertThrows(IOException.class, () -> DiskImage.open(new DiskConfig(dir, true)));
        assertEquals("disk image " + dir + " is not a regular file", e.getMessage());
    }

    @Test
    void anImageInUseCannotBeOpenedAgain() throws IOException {
        Path file = image(4096);
        try (DiskImage first = DiskImage.open(new DiskConfig(file, false))) {
            IOException e = assertThrows(IOException.class, () -> DiskImage.open(new DiskConfig(file, false)));
            assertEquals("disk image " + file + " is in use by another disk or process", e.getMessage());
            assertThrows(IOException.class, () -> DiskImage.open(new DiskConfig(file, true)));
        }
        try (DiskImage reader = DiskImage.open(new DiskConfig(file, true))) {
            assertTrue(reader.readOnly());
            assertThrows(IOException.class, () -> DiskImage.open(new DiskConfig(file, false)));
        }
        DiskImage.open(new DiskConfig(file, false)).close(); // closing released the locks
    }

    @Test
    void onlyWholeSectorsAreExposed() throws IOException {
        try (DiskImage disk = DiskImage.open(new DiskConfig(image(512 * 3 + 100), false))) {
            assertEquals(3, disk.sectors());
            assertTrue(disk.contains(0, 3));
            assertTrue(disk.contains(3, 0));
            assertFalse(disk.contains(2, 2));
            assertFalse(disk.contains(-1, 1));
            assertFalse(disk.contains(1, Long.MAX_VALUE));
        }
    }

    @Test
    void readsAndWritesGoToTheGivenOffset() throws IOException {
        Path file = image(2048);
        try (DiskImage disk = DiskImage.open(new DiskConfig(file, false))) {
            disk.write(1000, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            ByteBuffer back = ByteBuffer.allocate(5);
            disk.read(999, back);
            assertArrayEquals(new byte[] {0, 1, 2, 3, 0}, back.array());
            assertThrows(IOException.class, () -> disk.read(2047, ByteBuffer.allocate(2)), "end of file is an error");
        }
    }
}
