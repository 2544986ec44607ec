package io.vmguard.seal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The restore mode a sealed memory file gets when the operator forces none: up front for a sparse image (few
 * chunks to decrypt), lazy for a dense one, up front for secret memory, and what the operator forces otherwise.
 * Real sealed files: the choice reads their holes, not their (sealed) chunk table. The key's TPM sealing is not
 * under test here: the header carries a dummy.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RestoreModeChoiceTest {
    private static final SealedKey DUMMY = new SealedKey(new byte[8], new byte[8]);

    @TempDir
    Path dir;
    private final byte[] key = new byte[SealingTpm.KEY_BYTES];

    @AfterEach
    void unforce() {
        System.clearProperty(RestoreMode.PROPERTY);
    }

    /** A sealed file of a guest with {@code ram} bytes, {@code present} of them in written chunks (one byte per chunk). */
    private Path sealed(String name, long ram, long present) throws Exception {
        new SecureRandom().nextBytes(key);
        List<GuestMemory.Range> layout = X86Layout.ramRanges(ram);
        Path file = dir.resolve(name);
        try (GuestMemory memory = GuestMemory.allocate(layout)) {
            long left = present;
            for (GuestMemory.Range range : layout) {
                for (long at = range.start(); at + SealedMemoryImage.CHUNK <= range.end() && left > 0; at += SealedMemoryImage.CHUNK) {
                    memory.write(at + 100, new byte[] {1});
                    left -= SealedMemoryImage.CHUNK;
                }
            }
            assertEquals(present, SealedMemoryImage.write(memory, file, UUID.randomUUID(), key, DUMMY));
        }
        return file;
    }

    @Test
    void aSparseImageIsDecryptedUpFront() throws Exception {
        Path file = sealed("sparse.mem", 512L << 20, 32L << 20); // a guest using 32 of its 512 MiB
        long data = SealedMemoryImage.dataBytesUpTo(file, 1L << 40);
        assertTrue(data >= 32L << 20 && data < 34L << 20, "present bytes counted from the file's blocks: " + data);
        assertEquals(RestoreMode.UP_FRONT, SealedMemoryImage.chooseMode(file, MemoryBackend.ANONYMOUS));
    }

    @Test
    void aDenseImageIsRestoredLazily() throws Exception {
        long bound = RestoreMode.lazyFrom(ChunkPass.defaultThreads());
        Path file = sealed("dense.mem", bound + (64L << 20), bound + (32L << 20));
        assertEquals(bound, SealedMemoryImage.dataBytesUpTo(file, bound), "the count stops at its limit");
        assertEquals(RestoreMode.LAZY, SealedMemoryImage.chooseMode(file, MemoryBackend.ANONYMOUS));
        assertEquals(RestoreMode.UP_FRONT, SealedMemoryImage.chooseMode(file, MemoryBackend.SECRET),
                "userfaultfd cannot fill secret memory");
        System.setProperty(RestoreMode.PROPERTY, "up-front");
        assertEquals(RestoreMode.UP_FRONT, SealedMemoryImage.chooseMode(file, MemoryBackend.ANONYMOUS), "forced");
    }

    @Test
    void theOperatorForcesLazyOnASparseImage() throws Exception {
        Path file = sealed("sparse.mem", 64L << 20, 1L << 20);
        System.setProperty(RestoreMode.PROPERTY, "lazy");
        assertEquals(RestoreMode.LAZY, SealedMemoryImage.chooseMode(file, MemoryBackend.ANONYMOUS));
        System.setProperty(RestoreMode.PROPERTY, "auto");
        assertEquals(RestoreMode.UP_FRONT, SealedMemoryImage.chooseMode(file, MemoryBackend.ANONYMOUS));
    }

    @Test
    void theBoundScalesWithTheDecryptingThreadsAndTheSettingParses() {
        assertEquals(RestoreMode.UP_FRONT, RestoreMode.forPresentBytes(RestoreMode.UP_FRONT_BELOW_PER_THREAD * 2 - 1, 2));
        assertEquals(RestoreMode.LAZY, RestoreMode.forPresentBytes(RestoreMode.UP_FRONT_BELOW_PER_THREAD * 2, 2));
        assertEquals(RestoreMode.UP_FRONT, RestoreMode.forPresentBytes(RestoreMode.UP_FRONT_BELOW_PER_THREAD * 2, 4));
        assertEquals(Optional.empty(), RestoreMode.parse(null));
        assertEquals(Optional.empty(), RestoreMode.parse("auto"));
        assertEquals(Optional.of(RestoreMode.LAZY), RestoreMode.parse("LAZY"));
        assertEquals(Optional.of(RestoreMode.UP_FRONT), RestoreMode.parse("up-front"));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> RestoreMode.parse("eager"));
        assertTrue(bad.getMessage().contains("auto, lazy or up-front"), bad.getMessage());
    }

    @Test
    void aMissingFileCountsAsDense() {
        assertEquals(1234, SealedMemoryImage.dataBytesUpTo(dir.resolve("missing.mem"), 1234));
    }
}
