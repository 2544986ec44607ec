package io.vmguard.seal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.snapshot.Phases;
import io.vmguard.sys.NativeException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An up-front restore whose ciphertext was read into guest RAM before the key was there: it restores exactly
 * what the plain up-front restore does, still refuses every change in one line, and takes nothing on trust
 * from the preload (a file dense with its holes' zeros, or replaced after the preload, restores right).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CiphertextPreloadTest {
    private static final List<GuestMemory.Range> LAYOUT = X86Layout.ramRanges(32L << 20);
    /** Chunks with the guest's bytes: scattered, a run, and the last. */
    private static final int[] USED = {0, 3, 4, 5, 17, 100, 101, 511};

    @TempDir
    Path dir;
    private final UUID id = UUID.randomUUID();
    private final byte[] key = randomKey();
    private final SealedKey sealedKey = new SealedKey(new byte[] {1, 2, 3}, new byte[] {4, 5, 6});

    private static byte[] randomKey() {
        byte[] key = new byte[SealingTpm.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        return key;
    }

    private GuestMemory guest(long seed) throws Exception {
        GuestMemory memory = GuestMemory.allocate(LAYOUT);
        Random random = new Random(seed);
        for (int chunk : USED) {
            byte[] bytes = new byte[SealedMemoryImage.CHUNK];
            random.nextBytes(bytes);
            memory.write((long) chunk * SealedMemoryImage.CHUNK, bytes);
        }
        return memory;
    }

    private Path sealedFile(long seed, UUID snapshot, byte[] dataKey, SealedKey sealed) throws Exception {
        Path file = dir.resolve("vm.mem");
        try (GuestMemory memory = guest(seed)) {
            assertEquals(USED.length * (long) SealedMemoryImage.CHUNK, SealedMemoryImage.write(memory, file, snapshot, dataKey, sealed));
        }
        return file;
    }

    /** A restore whose key came after the preload had read everything (a slow unseal). */
    private GuestMemory preloadedRead(Path file, UUID snapshot, byte[] dataKey) throws Exception {
        return SealedMemoryImage.read(file, LAYOUT, snapshot, dataKey, MemoryBackend.ANONYMOUS, finished(CiphertextPreload.start(file, MemoryBackend.ANONYMOUS)));
    }

    private static CiphertextPreload finished(CiphertextPreload preload) throws InterruptedException {
        while (!preload.isDone()) {
            Thread.sleep(2);
        }
        return preload;
    }

    private static void assertSameRam(GuestMemory expected, GuestMemory actual) {
        for (GuestMemory.Range range : LAYOUT) {
            assertEquals(-1, expected.slice(range.start(), range.size()).mismatch(actual.slice(range.start(), range.size())));
        }
    }

    @Test
    void theFilesDataRangesNameExactlyItsPresentChunks() throws Exception {
        Path file = sealedFile(1, id, key, sealedKey);
        long chunks = SealedMemoryImage.chunkCount(LAYOUT);
        BitSet onDisk;
        try {
            onDisk = CiphertextPreload.chunksOnDisk(file, 4096, chunks);
        } catch (NativeException e) {
            Assumptions.abort("no SEEK_DATA on this file system: " + e.getMessage());
            return;
        }
        BitSet used = new BitSet();
        for (int chunk : USED) {
            used.set(chunk);
        }
        assertEquals(used, onDisk);
        CiphertextPreload.Loaded loaded = finished(CiphertextPreload.start(file, MemoryBackend.ANONYMOUS)).take();
        try (GuestMemory memory = loaded.memory()) {
            assertEquals(used, loaded.read(), "a preload left to finish reads every chunk on disk");
        } finally {
            loaded.closeTags();
        }
    }

    @Test
    void aPreloadStoppedByTheKeyEarlyLeavesTheRestToTheDecryptionAndRestoresTheSame() throws Exception {
        Path file = sealedFile(8, id, key, sealedKey);
        try (GuestMemory expected = guest(8); GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key,
                MemoryBackend.ANONYMOUS, CiphertextPreload.start(file, MemoryBackend.ANONYMOUS))) {
            assertSameRam(expected, restored);
        }
    }

    @Test
    void aSlotsMiddleDecidesNotTheBlocksItSharesWithItsNeighbours() {
        BitSet onDisk = new BitSet();
        long slot = SealedMemoryImage.SLOT;
        // Chunk 2's slot written: its blocks reach 4 KiB into chunk 1's and chunk 3's slots at most.
        CiphertextPreload.markMiddles(onDisk, 4096, 10, 4096 + 2 * slot - 4096, 4096 + 3 * slot + 4096);
        assertEquals(BitSet.valueOf(new long[] {0b100}), onDisk);
        CiphertextPreload.markMiddles(onDisk, 4096, 10, 0, 1L << 40);
        assertEquals(10, onDisk.cardinality(), "an extent past the end marks no chunk beyond the last");
    }

    @Test
    void aPreloadedRestoreReadsBackWhatThePlainUpFrontRestoreDoes() throws Exception {
        Path file = sealedFile(2, id, key, sealedKey);
        Phases phases = new Phases();
        try (GuestMemory expected = guest(2); Phases.Binding _ = phases.record(); GuestMemory restored = preloadedRead(file, id, key)) {
            assertSameRam(expected, restored);
        }
        assertTrue(phases.seconds().containsKey("restore.preload_ciphertext"), "the restore used the preload: " + phases.seconds());
    }

    @Test
    void aFileDenseWithItsHolesZerosRestoresItsHolesAsZeros() throws Exception {
        Path file = sealedFile(3, id, key, sealedKey);
        Files.write(file, Files.readAllBytes(file)); // every slot on disk now: the preload reads the holes' slots too
        try (GuestMemory expected = guest(3); GuestMemory restored = preloadedRead(file, id, key)) {
            assertSameRam(expected, restored);
        }
    }

    @Test
    void aFileReplacedAfterThePreloadRestoresTheNewFile() throws Exception {
        Path file = sealedFile(4, id, key, sealedKey);
        CiphertextPreload preload = CiphertextPreload.start(file, MemoryBackend.ANONYMOUS);
        while (!preload.isDone()) {
            Thread.sleep(5);
        }
        UUID newId = UUID.randomUUID();
        byte[] newKey = randomKey();
        sealedFile(5, newId, newKey, new SealedKey(new byte[] {9}, new byte[] {9}));
        try (GuestMemory expected = guest(5);
             GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, newId, newKey, MemoryBackend.ANONYMOUS, preload)) {
            assertSameRam(expected, restored);
        }
    }

    @Test
    void aChangedChunkHeaderOrKeyFailsThePreloadedRestoreInOneLine() throws Exception {
        Path file = sealedFile(6, id, key, sealedKey);
        byte[] pristine = Files.readAllBytes(file);
        long chunkAt = 4096 + 17 * (long) SealedMemoryImage.SLOT;
        for (long at : new long[] {chunkAt + 77, chunkAt + SealedMemoryImage.CHUNK + 3, 20, 4 + 8 + 16 + 5}) {
            try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
                raw.seek(at);
                int b = raw.read();
                raw.seek(at);
                raw.write(b ^ 0x01);
            }
            SealException e = assertThrows(SealException.class, () -> preloadedRead(file, id, key), "byte " + at + " flipped");
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            if (at >= chunkAt) {
                assertTrue(e.getMessage().contains("chunk 17 fails its authentication"), e.getMessage());
            }
            Files.write(file, pristine);
        }
        byte[] otherKey = key.clone();
        otherKey[0] ^= 1;
        assertThrows(SealException.class, () -> preloadedRead(file, id, otherKey));
        assertThrows(SealException.class, () -> preloadedRead(file, UUID.randomUUID(), key));
    }

    @Test
    void aPreloadOfAMissingOrForeignFileLeavesTheRestoresOwnError() throws Exception {
        Path missing = dir.resolve("missing.mem");
        SealException e = assertThrows(SealException.class, () -> preloadedRead(missing, id, key));
        assertTrue(e.getMessage().contains("cannot read sealed memory file"), e.getMessage());
        Path foreign = dir.resolve("foreign.mem");
        Files.write(foreign, new byte[100_000]);
        e = assertThrows(SealException.class, () -> preloadedRead(foreign, id, key));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void aHeaderNamingHugeMemoryIsNotTakenOnTrustAndTheRestoreFailsInOneLine() throws Exception {
        Path file = sealedFile(9, id, key, sealedKey);
        int headerLength;
        try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
            headerLength = raw.readInt();
            raw.seek(4 + headerLength - 8); // the last region's size, the header's last field
            raw.writeLong(CiphertextPreload.MAX_PRELOAD_BYTES * 4);
        }
        Phases phases = new Phases();
        try (Phases.Binding _ = phases.record()) {
            SealException e = assertThrows(SealException.class, () -> preloadedRead(file, id, key));
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
        assertFalse(phases.seconds().containsKey("restore.preload_ciphertext"), "nothing was preloaded: " + phases.seconds());
    }

    @Test
    void aPreloadClosedUnusedStopsAndFreesItsMemory() throws Exception {
        Path file = sealedFile(7, id, key, sealedKey);
        CiphertextPreload preload = CiphertextPreload.start(file, MemoryBackend.ANONYMOUS);
        preload.close();
        preload.close();
    }
}
