package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import io.vmguard.testing.SystemProperty;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GzipInitrdTest {
    private static final byte[] FIRST = archive("070701 first archive ", 5000);
    private static final byte[] SECOND = archive("070701 second archive ", 3000);

    @TempDir
    Path dir;

    private static byte[] archive(String text, int repeat) {
        return text.repeat(repeat).getBytes();
    }

    private static byte[] gzip(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static Optional<byte[]> decompress(byte[] file) {
        return decompress(file, 1 << 20);
    }

    /** Decompresses into a buffer of {@code room} bytes, as the boot does into guest RAM. */
    private static Optional<byte[]> decompress(byte[] file, int room) {
        byte[] out = new byte[room];
        OptionalLong size = GzipInitrd.decompress(MemorySegment.ofArray(file), MemorySegment.ofArray(out));
        return size.isPresent() ? Optional.of(Arrays.copyOf(out, (int) size.getAsLong())) : Optional.empty();
    }

    @Test
    void gzipMembersAndThePaddingBetweenThemBecomeOnePlainArchive() {
        assertArrayEquals(FIRST, decompress(gzip(FIRST)).orElseThrow());
        byte[] two = concat(gzip(FIRST), new byte[512], gzip(SECOND), new byte[3]);
        assertArrayEquals(concat(FIRST, SECOND), decompress(two).orElseThrow());
    }

    @Test
    void whatIsNotAllGzipGoesToTheGuestAsItIs() {
        assertEquals(Optional.empty(), decompress(FIRST), "an uncompressed cpio");
        assertEquals(Optional.empty(), decompress(concat(FIRST, gzip(SECOND))), "an early cpio before a compressed one");
        assertEquals(Optional.empty(), decompress(concat(gzip(FIRST), SECOND)), "a compressed cpio before a plain one");
        byte[] crc = gzip(FIRST);
        crc[crc.length - 6] ^= 1;
        assertEquals(Optional.empty(), decompress(crc), "a member whose CRC does not match");
        byte[] cut = gzip(FIRST);
        assertEquals(Optional.empty(), decompress(Arrays.copyOf(cut, cut.length - 20)), "a truncated member");
        byte[] flipped = gzip(FIRST);
        flipped[20] ^= 0x7f;
        assertEquals(Optional.empty(), decompress(flipped), "a corrupt member");
        byte[] odd = Arrays.copyOf(FIRST, FIRST.length - 1);
        assertEquals(Optional.empty(), decompress(concat(gzip(odd), gzip(SECOND))),
                "a member whose archive would leave the next one unaligned once joined");
        assertArrayEquals(odd, decompress(gzip(odd)).orElseThrow(), "the last member may end anywhere");
        assertEquals(Optional.empty(), decompress(gzip(FIRST), FIRST.length - 1), "an archive larger than the room it may take");
        assertArrayEquals(FIRST, decompress(gzip(FIRST), FIRST.length + 1).orElseThrow(), "one byte to spare");
    }

    @Test
    void theGuestGetsThePlainArchiveUnlessItIsAskedToDecompress() throws Exception {
        Path initrd = Files.write(dir.resolve("initrd.gz"), concat(gzip(FIRST), gzip(SECOND)));
        Path kernel = KernelFiles.write(dir, "vmlinux", KernelFiles.elf());
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(64L << 20))) {
            BootState boot = LinuxBoot.prepare(memory, kernel, initrd, "console=ttyS0");
            byte[] plain = concat(FIRST, SECOND);
            assertEquals(plain.length, boot.initrdSize());
            assertArrayEquals(plain, memory.readBytes(boot.initrdAddress(), plain.length));
            assertEquals(plain.length, memory.readInt(X86Layout.ZERO_PAGE + 0x21c), "boot_params' ramdisk_size");

            try (var guestDecompresses = SystemProperty.set(LinuxBoot.DECOMPRESS_PROPERTY, "guest")) {
                BootState guest = LinuxBoot.prepare(memory, kernel, initrd, "console=ttyS0");
                assertEquals(Files.size(initrd), guest.initrdSize());
                assertArrayEquals(Files.readAllBytes(initrd), memory.readBytes(guest.initrdAddress(), (int) guest.initrdSize()));
            }
        }
    }

    @Test
    void anArchiveTooBigToDecompressInGuestMemoryIsHandedOverCompressed() throws Exception {
        byte[] zeros = new byte[80 << 20]; // compresses to ~80 KiB, does not fit in 64 MiB of RAM decompressed
        zeros[0] = '0';
        Path initrd = Files.write(dir.resolve("big.gz"), gzip(zeros));
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(64L << 20))) {
            BootState boot = LinuxBoot.prepare(memory, KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), initrd, "");
            assertEquals(Files.size(initrd), boot.initrdSize());
            assertTrue(boot.initrdSize() < 1 << 20);
        }
    }
}
