package io.vmguard.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Durable replacement: until the commit the target keeps its old bytes (what a crash before the rename
 * leaves), an abandoned file leaves no temporary behind, a committed one is the new bytes, 0600, holes kept.
 */
class StagedFileTest {
    private static final byte[] OLD = "the previous snapshot".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NEW = "the new one".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private List<Path> files() throws Exception {
        try (Stream<Path> listing = Files.list(dir)) {
            return listing.sorted().toList();
        }
    }

    @Test
    void beforeTheCommitTheTargetKeepsItsOldBytesAndAnAbandonedFileLeavesNothing() throws Exception {
        Path target = Files.write(dir.resolve("vm.mem"), OLD);
        StagedFile staged = StagedFile.beside(target);
        staged.channel().write(ByteBuffer.wrap(NEW));
        staged.channel().force(true);
        // The process dies here (before the rename): the target is as it was, the new bytes only in a hidden file.
        assertArrayEquals(OLD, Files.readAllBytes(target));
        assertTrue(staged.temporary().getFileName().toString().startsWith("."), staged.temporary().toString());
        assertEquals(staged.temporary().getParent(), target.toAbsolutePath().getParent(), "not beside: the rename would not be atomic");
        staged.close();
        assertEquals(List.of(target), files(), "an abandoned staged file was left behind");
        assertArrayEquals(OLD, Files.readAllBytes(target));
    }

    @Test
    void aCommitReplacesTheTargetWithTheNewBytesPrivateAndSparse() throws Exception {
        Path target = Files.write(dir.resolve("vm.core"), OLD);
        try (StagedFile staged = StagedFile.beside(target)) {
            staged.channel().write(ByteBuffer.wrap(NEW));
            staged.setLength(64L << 20);
            staged.commit();
        }
        byte[] committed = Files.readAllBytes(target);
        assertEquals(64L << 20, committed.length);
        assertArrayEquals(NEW, java.util.Arrays.copyOf(committed, NEW.length));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        assertEquals(List.of(target), files());
        long blocks = Long.parseLong(new String(new ProcessBuilder("stat", "-c", "%b", target.toString()).start()
                .getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip());
        assertTrue(blocks * 512 < 1 << 20, "64 MiB of trailing zeros took " + blocks * 512 + " bytes: the hole was written");
    }

    @Test
    void filesCommittedTogetherAreRenamedInTheOrderGiven() throws Exception {
        Path memory = Files.write(dir.resolve("vm.mem"), OLD);
        Path state = Files.write(dir.resolve("vm.snap"), OLD);
        try (StagedFile memoryFile = StagedFile.beside(memory); StagedFile stateFile = StagedFile.beside(state)) {
            memoryFile.channel().write(ByteBuffer.wrap(NEW));
            stateFile.channel().write(ByteBuffer.wrap(NEW));
            assertArrayEquals(OLD, Files.readAllBytes(memory));
            StagedFile.commitTogether(memoryFile, stateFile);
            assertTrue(Files.getLastModifiedTime(memory).compareTo(Files.getLastModifiedTime(state)) <= 0);
        }
        assertArrayEquals(NEW, Files.readAllBytes(memory));
        assertArrayEquals(NEW, Files.readAllBytes(state));
        assertEquals(List.of(memory, state), files());
        assertFalse(files().stream().anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
    }
}
