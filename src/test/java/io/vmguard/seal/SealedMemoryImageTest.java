package io.vmguard.seal;

import io.vmguard.testing.ByteSearch;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sealed memory files and the owner's sealing TPM (a real swtpm): what is written holds no plaintext and no
 * encrypted zeros, reads back exactly, and refuses another TPM, another authorisation value, and any change.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SealedMemoryImageTest {
    private static final List<GuestMemory.Range> LAYOUT = X86Layout.ramRanges(32L << 20);
    private static final byte[] AUTH = "owner's secret".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;
    private final byte[] marker = new byte[16];
    private final UUID id = UUID.randomUUID();
    private byte[] key;
    private SealedKey sealedKey;
    private SealingTpm owner;

    @BeforeEach
    void sealAKey() throws Exception {
        new SecureRandom().nextBytes(marker);
        key = new byte[SealingTpm.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        owner = new SealingTpm(dir.resolve("owner-tpm"), AUTH);
        sealedKey = owner.seal(key);
    }

    private GuestMemory guestWithMarkers() throws Exception {
        GuestMemory memory = GuestMemory.allocate(LAYOUT);
        for (long address : new long[] {0x1000, 0x123456, 0x1ff0000}) {
            memory.write(address, marker);
        }
        return memory;
    }

    private Path sealedFile() throws Exception {
        Path file = dir.resolve("vm.mem");
        try (GuestMemory memory = guestWithMarkers()) {
            assertEquals(3 * SealedMemoryImage.CHUNK, SealedMemoryImage.write(memory, file, id, key, sealedKey));
        }
        return file;
    }

    @Test
    void theOwnersTpmUnsealsTheKeyItSealed() throws Exception {
        assertArrayEquals(key, owner.unseal(sealedKey));
    }

    @Test
    void anotherTpmOrAnotherAuthorisationValueCannotUnseal() {
        SealException other = assertThrows(SealException.class, () -> new SealingTpm(dir.resolve("other-tpm"), AUTH).unseal(sealedKey));
        assertTrue(other.getMessage().contains("another TPM"), other.getMessage());
        SealException wrong = assertThrows(SealException.class,
                () -> new SealingTpm(dir.resolve("owner-tpm"), "guess".getBytes(StandardCharsets.US_ASCII)).unseal(sealedKey));
        assertTrue(wrong.getMessage().contains("authorisation value"), wrong.getMessage());
        assertFalse(wrong.getMessage().contains("\n"));
    }

    @Test
    void aSealedFileHoldsNoPlaintextStaysSparseAndReadsBackExactly() throws Exception {
        Path file = sealedFile();
        assertEquals(0, ByteSearch.count(Files.readAllBytes(file), marker), "the marker is in the sealed file");
        long blocks = Long.parseLong(new String(new ProcessBuilder("stat", "-c", "%b", file.toString()).start()
                .getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip());
        assertTrue(blocks * 512 < 1 << 20, "32 MiB of mostly zero RAM took " + blocks * 512 + " bytes on disk: zeros were encrypted");
        try (GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS);
             GuestMemory original = guestWithMarkers()) {
            for (GuestMemory.Range range : LAYOUT) {
                assertEquals(-1, original.slice(range.start(), range.size()).mismatch(restored.slice(range.start(), range.size())));
            }
        }
    }

    @Test
    void libcryptoOnSeveralThreadsAndJcaOnOneWriteTheSameBytesAndReadEachOthersFiles() throws Exception {
        assertTrue(OpenSslGcm.available(), "libcrypto.so.3 (libssl3) is missing: nothing to compare JCA with");
        Path viaLibcrypto = dir.resolve("libcrypto.mem");
        Path viaJca = dir.resolve("jca.mem");
        byte[] noise = new byte[5 * SealedMemoryImage.CHUNK + 4096];
        new SecureRandom().nextBytes(noise);
        try (GuestMemory memory = guestWithMarkers()) {
            memory.write(0x400000 - 4096, noise); // spans six chunks, none whole
            long written = SealedMemoryImage.write(memory, viaLibcrypto, id, key, sealedKey, 4);
            System.setProperty("vmguard.seal.jca", "true");
            try {
                assertEquals(written, SealedMemoryImage.write(memory, viaJca, id, key, sealedKey, 1));
                assertEquals(-1, Files.mismatch(viaLibcrypto, viaJca), "libcrypto and JCA sealed the same RAM differently");
                try (GuestMemory restored = SealedMemoryImage.read(viaLibcrypto, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT)) {
                    assertSameRam(memory, restored, "JCA read it back wrong");
                }
            } finally {
                System.clearProperty("vmguard.seal.jca");
            }
            try (GuestMemory restored = SealedMemoryImage.read(viaJca, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT)) {
                assertSameRam(memory, restored, "libcrypto read it back wrong");
            }
        }
    }

    private static void assertSameRam(GuestMemory expected, GuestMemory actual, String message) {
        for (GuestMemory.Range range : LAYOUT) {
            assertEquals(-1, expected.slice(range.start(), range.size()).mismatch(actual.slice(range.start(), range.size())), message);
        }
    }

    @Test
    void aSealedFileRestoresIntoSecretMemoryToo() throws Exception {
        Path file = sealedFile();
        try (GuestMemory restored = SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.SECRET)) {
            assertArrayEquals(marker, restored.readBytes(0x123456, marker.length));
            assertArrayEquals(new byte[16], restored.readBytes(0x200000, 16), "a hole reads as zero");
        }
    }

    @Test
    void upFrontAChangedByteAZeroedChunkOrAnotherSnapshotsIdIsRefusedInOneLine() throws Exception {
        Path file = sealedFile();
        byte[] pristine = Files.readAllBytes(file);
        long dataStart = 4096; // the front of a 32 MiB layout fits in the first page
        long chunkAt = dataStart + (0x123456 / SealedMemoryImage.CHUNK) * (SealedMemoryImage.CHUNK + 16L);
        for (long at : new long[] {chunkAt + 77, 20, 4 + 8 + 16 + 5}) {
            try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
                raw.seek(at);
                int b = raw.read();
                raw.seek(at);
                raw.write(b ^ 0x01);
            }
            SealException e = assertThrows(SealException.class, () -> SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT),
                    "byte " + at + " flipped");
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            Files.write(file, pristine);
        }
        try (RandomAccessFile raw = new RandomAccessFile(file.toFile(), "rw")) {
            raw.seek(chunkAt);
            raw.write(new byte[SealedMemoryImage.CHUNK + 16]);
        }
        assertThrows(SealException.class, () -> SealedMemoryImage.read(file, LAYOUT, id, key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT), "zeroed chunk");
        Files.write(file, pristine);
        assertThrows(SealException.class, () -> SealedMemoryImage.read(file, LAYOUT, UUID.randomUUID(), key, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT));
        byte[] otherKey = key.clone();
        otherKey[0] ^= 1;
        assertThrows(SealException.class, () -> SealedMemoryImage.read(file, LAYOUT, id, otherKey, MemoryBackend.ANONYMOUS, RestoreMode.UP_FRONT));
    }

    @Test
    void aSealedStateFileOpensOnlyWithItsKeyAndUnchanged() throws Exception {
        byte[] state = "{\"format\": \"vmguard-snapshot\"}".getBytes(StandardCharsets.US_ASCII);
        byte[] sealed = SealedState.seal(state, id, key, sealedKey);
        assertTrue(SealedState.isSealed(sealed));
        assertEquals(-1, new String(sealed, StandardCharsets.ISO_8859_1).indexOf("vmguard-snapshot"));
        assertArrayEquals(state, SealedState.unseal(sealed, owner.unseal(SealedState.open(sealed, "state").key()), "state"));
        sealed[sealed.length - 3] ^= 1;
        byte[] tampered = sealed;
        assertThrows(SealException.class, () -> SealedState.unseal(tampered, key, "state"));
    }
}
