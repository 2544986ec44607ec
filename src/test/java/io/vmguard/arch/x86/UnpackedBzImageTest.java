package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import io.vmguard.testing.SystemProperty;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.FilterOptions;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.X86Options;
import org.tukaani.xz.XZ;
import org.tukaani.xz.XZOutputStream;

/**
 * A bzImage made byte by byte whose compressed kernel is {@link KernelFiles#elf()} plus a relocation table,
 * compressed as the kernel's build does it (XZ with the x86 filter, or gzip, then the decompressed size).
 */
class UnpackedBzImageTest {
    private static final int SETUP_SECTORS = 3;
    private static final int KERNEL_OFFSET = (SETUP_SECTORS + 1) * 512;
    /** The decompressor's own code and strings before the payload; "nokaslr" marks a KASLR kernel's. */
    private static final byte[] DECOMPRESSOR = "....KASLR disabled: 'nokaslr' on cmdline....".getBytes();
    /** Fields inside the ELF's segment that hold kernel addresses, and what they hold at link time. */
    private static final long FIELD32 = KernelFiles.ELF_LOAD_ADDRESS + 0x10;
    private static final long FIELD_INVERSE = KernelFiles.ELF_LOAD_ADDRESS + 0x20;
    private static final long FIELD64 = KernelFiles.ELF_LOAD_ADDRESS + 0x30;
    private static final int LINKED32 = 0x8100_0040;
    private static final int LINKED_INVERSE = 0x1234_5678;
    private static final long LINKED64 = 0xffff_ffff_8100_0040L;

    @TempDir
    Path dir;
    private GuestMemory memory;
    private Arena arena;

    @BeforeEach
    void setUp() throws Exception {
        memory = GuestMemory.allocate(X86Layout.ramRanges(64L << 20));
        arena = Arena.ofConfined();
    }

    @AfterEach
    void tearDown() {
        arena.close();
        memory.close();
    }

    /** The ELF with the three fields filled in, then the table: 0, 64-bit, 0, inverse 32-bit, 0, 32-bit. */
    static byte[] relocatableVmlinux(long... extraSign32) {
        ByteBuffer elf = ByteBuffer.wrap(KernelFiles.elf()).order(ByteOrder.LITTLE_ENDIAN);
        int fileBase = 0x100; // KernelFiles.elf's segment data starts here in the file
        elf.putInt(fileBase + 0x10, LINKED32).putInt(fileBase + 0x20, LINKED_INVERSE).putLong(fileBase + 0x30, LINKED64);
        ByteBuffer table = ByteBuffer.allocate(4 * (6 + extraSign32.length)).order(ByteOrder.LITTLE_ENDIAN);
        table.putInt(0).putInt(virtual(FIELD64)).putInt(0).putInt(virtual(FIELD_INVERSE)).putInt(0);
        for (long extra : extraSign32) {
            table.putInt(virtual(extra));
        }
        table.putInt(virtual(FIELD32));
        byte[] out = Arrays.copyOf(elf.array(), elf.capacity() + table.capacity());
        System.arraycopy(table.array(), 0, out, elf.capacity(), table.capacity());
        return out;
    }

    private static int virtual(long physical) {
        return (int) (physical + KernelRelocations.START_KERNEL_MAP);
    }

    static byte[] xz(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream xz = new XZOutputStream(out, new FilterOptions[] {new X86Options(), new LZMA2Options()}, XZ.CHECK_CRC32)) {
            xz.write(data);
        }
        return withSize(out.toByteArray(), data.length);
    }

    static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return withSize(out.toByteArray(), data.length);
    }

    private static byte[] withSize(byte[] compressed, int size) {
        byte[] out = Arrays.copyOf(compressed, compressed.length + 4);
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(compressed.length, size);
        return out;
    }

    /** KernelFiles' bzImage header, its protected-mode part the decompressor's bytes then {@code payload}. */
    static byte[] bzImage(byte[] payload) {
        byte[] header = KernelFiles.bzImage();
        int kernelBytes = (DECOMPRESSOR.length + payload.length + 15) & ~15;
        ByteBuffer b = ByteBuffer.allocate(KERNEL_OFFSET + kernelBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(header, 0, KERNEL_OFFSET);
        b.putInt(0x1f4, kernelBytes / 16);
        b.putInt(0x248, DECOMPRESSOR.length).putInt(0x24c, payload.length);
        b.put(KERNEL_OFFSET, DECOMPRESSOR).put(KERNEL_OFFSET + DECOMPRESSOR.length, payload);
        return b.array();
    }

    private BzImageKernel open(byte[] file) throws Exception {
        return assertInstanceOf(BzImageKernel.class, KernelImage.open(KernelFiles.write(dir, "vmlinuz", file), arena));
    }

    private UnpackedBzImage unpack(byte[] file, String commandLine) throws Exception {
        return UnpackedBzImage.unpack(open(file), commandLine, new SplittableRandom(7)).orElseThrow();
    }

    @Test
    void anXzKernelIsLoadedWhereItsElfSaysAndMovedByASlideWithItsRelocations() throws Exception {
        UnpackedBzImage kernel = unpack(bzImage(xz(relocatableVmlinux())), "console=ttyS0");
        long slide = kernel.slide();
        assertNotEquals(0, slide, "a KASLR kernel with relocations is moved");
        assertEquals(0, slide % 0x20_0000, "by its alignment");
        assertTrue(KernelFiles.ELF_LOAD_ADDRESS + slide + KernelFiles.ELF_MEMORY_BYTES <= UnpackedBzImage.KERNEL_IMAGE_SIZE);

        KernelImage.Loaded loaded = kernel.loadInto(memory);
        assertEquals(KernelFiles.ELF_ENTRY, loaded.entry(), "the vmlinux's 64-bit entry, not the decompressor's");
        assertEquals(KernelFiles.ELF_LOAD_ADDRESS + KernelFiles.ELF_MEMORY_BYTES, loaded.end());
        assertEquals((byte) 0xab, memory.readByte(KernelFiles.ELF_LOAD_ADDRESS + KernelFiles.ELF_FILE_BYTES - 1));
        assertEquals((int) (LINKED32 + slide), memory.readInt(FIELD32));
        assertEquals((int) (LINKED_INVERSE - slide), memory.readInt(FIELD_INVERSE));
        assertEquals(LINKED64 + slide, memory.readLong(FIELD64));
        // The bzImage's own header goes to boot_params, with KASLR_FLAG in loadflags: the kernel was moved.
        assertEquals(0x26c - 0x1f1, loaded.setupHeader().length);
        assertEquals(2, loaded.setupHeader()[0x211 - 0x1f1] & 2);
        assertEquals(2048, loaded.commandLineMax());
    }

    @Test
    void slidesAreDrawnFromTheDecompressorsWholeRange() throws Exception {
        BzImageKernel bz = open(bzImage(xz(relocatableVmlinux())));
        java.util.Set<Long> slides = new java.util.HashSet<>();
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < 50; i++) {
            slides.add(UnpackedBzImage.unpack(bz, "", random).orElseThrow().slide());
        }
        assertTrue(slides.size() > 40, "50 boots drew only " + slides.size() + " slides");
    }

    @Test
    void nokaslrOnTheCommandLineLeavesTheKernelWhereItWasLinked() throws Exception {
        UnpackedBzImage kernel = unpack(bzImage(xz(relocatableVmlinux())), "console=ttyS0 nokaslr quiet");
        assertEquals(0, kernel.slide());
        KernelImage.Loaded loaded = kernel.loadInto(memory);
        assertEquals(LINKED32, memory.readInt(FIELD32));
        assertEquals(LINKED64, memory.readLong(FIELD64));
        assertEquals(0, loaded.setupHeader()[0x211 - 0x1f1] & 2);
    }

    @Test
    void aKernelWithoutKaslrBuiltInOrNotRelocatableIsNotMoved() throws Exception {
        byte[] noKaslr = bzImage(xz(relocatableVmlinux()));
        int option = indexOf(noKaslr, "nokaslr".getBytes());
        noKaslr[option] = 'N'; // a decompressor without CONFIG_RANDOMIZE_BASE has no such option
        assertEquals(0, unpack(noKaslr, "").slide());

        byte[] fixed = bzImage(xz(relocatableVmlinux()));
        fixed[0x234] = 0; // relocatable_kernel
        assertEquals(0, unpack(fixed, "").slide());

        UnpackedBzImage noTable = unpack(bzImage(xz(KernelFiles.elf())), "");
        assertEquals(0, noTable.slide());
        assertEquals(KernelFiles.ELF_ENTRY, noTable.loadInto(memory).entry());
    }

    @Test
    void aGzipKernelIsDecompressedToo() throws Exception {
        UnpackedBzImage kernel = unpack(bzImage(gzip(relocatableVmlinux())), "");
        KernelImage.Loaded loaded = kernel.loadInto(memory);
        assertEquals(KernelFiles.ELF_ENTRY, loaded.entry());
        assertEquals(LINKED64 + kernel.slide(), memory.readLong(FIELD64));
    }

    @Test
    void aFormatVmguardDoesNotKnowIsLeftToTheGuestsDecompressor() throws Exception {
        byte[] zstd = {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 1, 2, 3, 4, 5, 6, 7, 8};
        BzImageKernel bz = open(bzImage(zstd));
        assertEquals(Optional.empty(), UnpackedBzImage.unpack(bz, "", new SplittableRandom(1)));
        // The header's payload fields absent (KernelFiles' plain bzImage): the same.
        assertEquals(Optional.empty(), UnpackedBzImage.unpack(open(KernelFiles.bzImage()), "", new SplittableRandom(1)));

        Path kernel = KernelFiles.write(dir, "zstd-vmlinuz", bzImage(zstd));
        BootState boot = LinuxBoot.prepare(memory, kernel, null, "console=ttyS0");
        assertEquals(X86Layout.HIGH_MEMORY_START + 0x200, boot.registers().rip(), "the bzImage's own 64-bit entry");
    }

    @Test
    void bootingAnXzBzImageEntersTheDecompressedKernelUnlessTheGuestIsAskedToDecompress() throws Exception {
        Path kernel = KernelFiles.write(dir, "xz-vmlinuz", bzImage(xz(relocatableVmlinux())));
        assertEquals(KernelFiles.ELF_ENTRY, LinuxBoot.prepare(memory, kernel, null, "console=ttyS0").registers().rip());
        try (var decompress = SystemProperty.set(LinuxBoot.DECOMPRESS_PROPERTY, "guest")) {
            assertEquals(X86Layout.HIGH_MEMORY_START + 0x200, LinuxBoot.prepare(memory, kernel, null, "console=ttyS0").registers().rip());
            decompress.change("fast");
            String message = assertThrows(KernelLoadException.class, () -> LinuxBoot.prepare(memory, kernel, null, "")).getMessage();
            assertEquals("-Dvmguard.boot.decompress=fast: use host or guest", message);
        }
    }

    @Test
    void anEngineThatRunsGuestCodeNativelyLeavesTheDecompressionToTheGuestUnlessTheHostIsAskedTo() throws Exception {
        Path kernel = KernelFiles.write(dir, "xz-vmlinuz", bzImage(xz(relocatableVmlinux())));
        assertEquals(X86Layout.HIGH_MEMORY_START + 0x200, LinuxBoot.prepare(memory, kernel, null, "console=ttyS0", 0,
                LinuxBoot.Decompression.GUEST).registers().rip(), "the bzImage's own 64-bit entry");
        try (var hostDecompresses = SystemProperty.set(LinuxBoot.DECOMPRESS_PROPERTY, "host")) {
            assertEquals(KernelFiles.ELF_ENTRY, LinuxBoot.prepare(memory, kernel, null, "console=ttyS0", 0,
                    LinuxBoot.Decompression.GUEST).registers().rip());
        }
    }

    @Test
    void aCorruptOrLyingPayloadIsRejectedInOneLine() throws Exception {
        byte[] payload = xz(relocatableVmlinux());
        byte[] flipped = payload.clone();
        flipped[payload.length / 2] ^= 0x55;
        assertCorrupt(bzImage(flipped), "does not decompress");

        byte[] shortSize = payload.clone();
        ByteBuffer.wrap(shortSize).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length - 4, 100);
        assertCorrupt(bzImage(shortSize), "decompresses to more than 100 bytes, not the 100 it declares");

        byte[] longSize = payload.clone();
        ByteBuffer.wrap(longSize).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length - 4, 1 << 20);
        assertCorrupt(bzImage(longSize), "not the 1048576 it declares");

        byte[] huge = payload.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length - 4, -1);
        assertCorrupt(bzImage(huge), "declares 4294967295 bytes decompressed (at most 512 MiB)");

        byte[] notElf = xz("not a kernel at all, just text".getBytes());
        assertCorrupt(bzImage(notElf), "is corrupt: its compressed kernel is not an ELF vmlinux");
    }

    @Test
    void aRelocationOutsideTheKernelIsRejectedBeforeAnythingIsWritten() throws Exception {
        UnpackedBzImage kernel = unpack(bzImage(xz(relocatableVmlinux(X86Layout.ZERO_PAGE))), "");
        String message = assertThrows(KernelLoadException.class, () -> kernel.loadInto(memory)).getMessage();
        assertTrue(message.contains("relocation table names 0xffffffff80007000, outside the kernel"), message);
        assertEquals(LINKED32, memory.readInt(FIELD32), "the good entries before it were not applied either");
    }

    private void assertCorrupt(byte[] file, String detail) throws Exception {
        BzImageKernel bz = open(file);
        String message = assertThrows(KernelLoadException.class, () -> UnpackedBzImage.unpack(bz, "", new SplittableRandom(1))).getMessage();
        assertTrue(message.startsWith("kernel " + dir.resolve("vmlinuz")), message);
        assertTrue(message.contains(detail), message);
        assertEquals(1, message.lines().count(), message);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new AssertionError("not found");
    }
}
