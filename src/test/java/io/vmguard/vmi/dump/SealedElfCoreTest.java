package io.vmguard.vmi.dump;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.seal.SealException;
import io.vmguard.seal.SealedDump;
import io.vmguard.seal.SealingTpm;
import io.vmguard.vmm.SealedDumpSink;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A core dump written sealed (--seal): no guest byte and no note text in clear, and {@code unseal-dump}'s
 * decryption with the owner's TPM gives exactly the file a plain dump of the same guest is; another TPM or
 * a changed byte gives one line and no output.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SealedElfCoreTest {
    private static final String VMCOREINFO = "OSRELEASE=6.12.0-sealed-marker\nPAGESIZE=4096\n";

    @TempDir
    Path dir;

    private final SyntheticGuest guest = new SyntheticGuest();
    private final DumpOptions options = DumpOptions.defaults().withVmcoreInfo(VMCOREINFO);

    private Path sealedDump(SealingTpm owner) throws Exception {
        Path sealed = dir.resolve("sealed.core");
        DumpResult result = new ElfCoreWriter(options).write(guest, sealed, SealedDumpSink.opener(SealedDump.Key.fresh(owner)));
        assertInstanceOf(DumpResult.Written.class, result, result.toString());
        return sealed;
    }

    /** 64 bytes of guest RAM from the middle of the high range, which a plain dump holds verbatim. */
    private static byte[] guestBytes() {
        byte[] bytes = new byte[64];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = SyntheticGuest.byteAt(SyntheticGuest.HIGH_START + 0x10_0000 + i);
        }
        return bytes;
    }

    @Test
    void aSealedDumpHoldsNoPlaintextAndUnsealsToThePlainDumpByteForByte() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), "owner".getBytes(StandardCharsets.US_ASCII));
        Path plain = dir.resolve("plain.core");
        new ElfCoreWriter(options).write(guest, plain).orThrow();
        Path sealed = sealedDump(owner);

        byte[] plainBytes = Files.readAllBytes(plain);
        byte[] sealedBytes = Files.readAllBytes(sealed);
        assertTrue(indexOf(plainBytes, guestBytes()) >= 0, "the plain dump holds the guest's bytes");
        assertTrue(indexOf(plainBytes, VMCOREINFO.getBytes(StandardCharsets.US_ASCII)) >= 0);
        assertEquals(-1, indexOf(sealedBytes, guestBytes()), "guest memory in clear in the sealed dump");
        assertEquals(-1, indexOf(sealedBytes, "sealed-marker".getBytes(StandardCharsets.US_ASCII)), "the notes in clear");
        assertFalse(java.util.Arrays.equals(plainBytes, 0, 64, sealedBytes, 0, 64), "the ELF header in clear");
        assertTrue(SealedDump.isSealed(sealed));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sealed)));

        Path opened = dir.resolve("opened.core");
        assertEquals(plainBytes.length, SealedDump.unseal(sealed, opened, owner));
        assertArrayEquals(plainBytes, Files.readAllBytes(opened), "the unsealed dump differs from the plain one");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(opened)));
    }

    @Test
    void anotherTpmOrAChangedByteIsOneLineAndWritesNothing() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), new byte[0]);
        Path sealed = sealedDump(owner);
        Path opened = dir.resolve("opened.core");
        SealException other = assertThrows(SealException.class,
                () -> SealedDump.unseal(sealed, opened, new SealingTpm(dir.resolve("other-tpm"), new byte[0])));
        assertTrue(other.getMessage().contains("another TPM"), other.getMessage());

        long size = Files.size(sealed);
        for (long at : new long[] {4096 + 100, size / 2, size - 10}) {
            byte[] pristine = Files.readAllBytes(sealed);
            try (RandomAccessFile raw = new RandomAccessFile(sealed.toFile(), "rw")) {
                raw.seek(at);
                int b = raw.read();
                raw.seek(at);
                raw.write(b ^ 0x01);
            }
            SealException e = assertThrows(SealException.class, () -> SealedDump.unseal(sealed, opened, owner), "byte " + at + " flipped");
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
            Files.write(sealed, pristine);
        }
        byte[] pristine = Files.readAllBytes(sealed);
        Files.write(sealed, java.util.Arrays.copyOf(pristine, pristine.length - SealedDump.CHUNK - 16)); // cut short by a slot
        assertThrows(SealException.class, () -> SealedDump.unseal(sealed, opened, owner), "cut short");
        byte[] lying = pristine.clone();
        java.nio.ByteBuffer.wrap(lying).putInt(lying.length - 4, 0x7fff_fff0); // a trailer length no file of this size has
        Files.write(sealed, lying);
        SealException lie = assertThrows(SealException.class, () -> SealedDump.unseal(sealed, opened, owner));
        assertTrue(lie.getMessage().contains("trailer length"), lie.getMessage());
        assertFalse(Files.exists(opened), "a failed unseal wrote the output");
        try (Stream<Path> files = Files.list(dir)) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")), "a temporary file was left");
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
