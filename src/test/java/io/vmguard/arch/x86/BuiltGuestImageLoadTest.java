package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import io.vmguard.testing.BuiltGuest;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loader on the real kernel the guest recipe builds, in both formats. */
class BuiltGuestImageLoadTest {
    /** __START_KERNEL_map: x86-64 kernel text is linked at this virtual offset from its physical address. */
    private static final long START_KERNEL_MAP = 0xffffffff80000000L;

    @TempDir
    Path dir;

    private static long symbol(String name) throws IOException {
        try (var lines = Files.lines(BuiltGuest.systemMap())) {
            return lines.map(line -> line.split(" "))
                    .filter(fields -> fields.length == 3 && fields[2].equals(name))
                    .mapToLong(fields -> Long.parseUnsignedLong(fields[0], 16))
                    .findFirst().orElseThrow(() -> new AssertionError(name + " not in System.map"));
        }
    }

    @Test
    void vmlinuxIsEnteredAtThePhysicalAddressOfStartup64() throws Exception {
        try (Arena arena = Arena.ofConfined(); GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(256L << 20))) {
            KernelImage kernel = KernelImage.open(BuiltGuest.vmlinux(), arena);
            ElfKernel elf = assertInstanceOf(ElfKernel.class, kernel);
            KernelImage.Loaded loaded = kernel.loadInto(memory);
            assertEquals(symbol("startup_64") - START_KERNEL_MAP, loaded.entry());

            ElfKernel.Segment text = elf.segments().getFirst();
            byte[] fromFile = elf.bytes().asSlice(text.offset(), 4096).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            assertArrayEquals(fromFile, memory.readBytes(text.address(), 4096));
        }
    }

    @Test
    void bzImageSpeaksAModernBootProtocolAndNamesItsVersion() throws Exception {
        byte[] header = Arrays.copyOf(Files.readAllBytes(BuiltGuest.bzImage()), 0x4000);
        int version = (header[0x206] & 0xff) | (header[0x207] & 0xff) << 8;
        assertTrue(version >= 0x20c, "protocol " + Integer.toHexString(version));
        int versionString = ((header[0x20e] & 0xff) | (header[0x20f] & 0xff) << 8) + 0x200;
        String text = new String(header, versionString, 16, java.nio.charset.StandardCharsets.US_ASCII);
        assertTrue(text.startsWith("6.12."), text);

        try (Arena arena = Arena.ofConfined(); GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(256L << 20))) {
            KernelImage kernel = KernelImage.open(BuiltGuest.bzImage(), arena);
            assertInstanceOf(BzImageKernel.class, kernel);
            assertEquals(X86Layout.HIGH_MEMORY_START + 0x200, kernel.loadInto(memory).entry());
        }
    }

    @Test
    void theBzImagesGzipKernelDecompressesToTheVmlinuxWithItsRelocationTable() throws Exception {
        try (Arena arena = Arena.ofConfined(); GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(256L << 20))) {
            BzImageKernel bz = assertInstanceOf(BzImageKernel.class, KernelImage.open(BuiltGuest.bzImage(), arena));
            UnpackedBzImage unpacked = UnpackedBzImage.unpack(bz, "console=ttyS0", new java.util.SplittableRandom(3)).orElseThrow();
            assertEquals(symbol("startup_64") - START_KERNEL_MAP, unpacked.loadInto(memory).entry());
            int relocations = unpacked.relocations().orElseThrow().count();
            assertTrue(relocations > 10_000, relocations + " relocations");
            assertTrue(UnpackedBzImage.kaslrWanted(bz, "console=ttyS0"), "the recipe's kernel has CONFIG_RANDOMIZE_BASE");
            // The text the slide moved: startup_64's first bytes are position-independent, so they match the vmlinux's.
            KernelImage vmlinux = KernelImage.open(BuiltGuest.vmlinux(), arena);
            ElfKernel.Segment text = ((ElfKernel) vmlinux).segments().getFirst();
            byte[] fromFile = ((ElfKernel) vmlinux).bytes().asSlice(text.offset(), 64).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            assertArrayEquals(fromFile, memory.readBytes(text.address(), 64));
        }
    }

    @Test
    void bothFormatsBootWithTheInitramfsAboveTheKernel() throws Exception {
        for (Path kernel : new Path[] {BuiltGuest.vmlinux(), BuiltGuest.bzImage()}) {
            try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(256L << 20))) {
                BootState boot = LinuxBoot.prepare(memory, kernel, BuiltGuest.initramfs(), "console=ttyS0");
                assertTrue(boot.initrdAddress() >= boot.kernelEnd(), kernel.toString());
                // The image's gzip initramfs reaches the guest decompressed (GzipInitrd): a "newc" cpio.
                assertTrue(boot.initrdSize() > Files.size(BuiltGuest.initramfs()), boot.initrdSize() + " bytes");
                assertEquals("070701", new String(memory.readBytes(boot.initrdAddress(), 6), java.nio.charset.StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void aTruncatedCopyOfTheRealKernelIsRejectedInOneLine() throws Exception {
        for (Path kernel : new Path[] {BuiltGuest.vmlinux(), BuiltGuest.bzImage()}) {
            Path cut = dir.resolve("cut-" + kernel.getFileName());
            try (var in = Files.newInputStream(kernel)) {
                Files.write(cut, in.readNBytes((int) Math.min(Files.size(kernel) / 2, 8 << 20)));
            }
            try (Arena arena = Arena.ofConfined(); GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(256L << 20))) {
                String message = org.junit.jupiter.api.Assertions.assertThrows(KernelLoadException.class,
                        () -> KernelImage.open(cut, arena).loadInto(memory)).getMessage();
                assertTrue(message.contains("truncated"), message);
                assertEquals(1, message.lines().count());
            }
        }
    }
}
