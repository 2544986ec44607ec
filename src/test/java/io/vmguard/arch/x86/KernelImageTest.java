package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelImageTest {
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

    private KernelImage open(byte[] bytes) throws Exception {
        return KernelImage.open(KernelFiles.write(dir, "kernel", bytes), arena);
    }

    private String failure(byte[] bytes) {
        return assertThrows(KernelLoadException.class, () -> open(bytes).loadInto(memory)).getMessage();
    }

    @Test
    void loadsAnElfKernelAtItsPhysicalAddressesAndZeroesItsBss() throws Exception {
        KernelImage kernel = open(KernelFiles.elf());
        assertInstanceOf(ElfKernel.class, kernel);
        memory.fill(KernelFiles.ELF_LOAD_ADDRESS, KernelFiles.ELF_MEMORY_BYTES, (byte) 0x55);
        KernelImage.Loaded loaded = kernel.loadInto(memory);
        assertEquals(KernelFiles.ELF_ENTRY, loaded.entry());
        assertEquals(KernelFiles.ELF_LOAD_ADDRESS + KernelFiles.ELF_MEMORY_BYTES, loaded.end());
        assertEquals((byte) 0xab, memory.readByte(KernelFiles.ELF_LOAD_ADDRESS + KernelFiles.ELF_FILE_BYTES - 1));
        assertEquals(0, memory.readByte(KernelFiles.ELF_LOAD_ADDRESS + KernelFiles.ELF_FILE_BYTES));
        assertEquals(0, memory.readByte(KernelFiles.ELF_LOAD_ADDRESS + KernelFiles.ELF_MEMORY_BYTES - 1));
    }

    @Test
    void loadsABzImageAtOneMegabyteAndEntersAt0x200() throws Exception {
        KernelImage kernel = open(KernelFiles.bzImage());
        assertInstanceOf(BzImageKernel.class, kernel);
        KernelImage.Loaded loaded = kernel.loadInto(memory);
        assertEquals(X86Layout.HIGH_MEMORY_START + 0x200, loaded.entry());
        assertEquals((byte) 0xcd, memory.readByte(X86Layout.HIGH_MEMORY_START));
        assertEquals((byte) 0xcd, memory.readByte(X86Layout.HIGH_MEMORY_START + KernelFiles.BZ_KERNEL_BYTES - 1));
        assertEquals(0x26c - 0x1f1, loaded.setupHeader().length);
        assertEquals(2048, loaded.commandLineMax());
        // The kernel decompresses to pref_address and needs init_size bytes there.
        assertEquals(0x100_0000 + 0x40_0000, loaded.end());
    }

    @Test
    void rejectsFilesThatAreNoKernel() {
        assertTrue(failure("hello, world".getBytes()).contains("neither an ELF vmlinux nor a bzImage"));
        assertTrue(failure(new byte[0]).contains("neither"));
    }

    @Test
    void rejectsAMissingKernelInOneLine() {
        String message = assertThrows(KernelLoadException.class,
                () -> KernelImage.open(dir.resolve("absent"), arena)).getMessage();
        assertEquals("kernel " + dir.resolve("absent") + " not found", message);
    }

    @Test
    void rejectsTruncatedElfKernels() {
        byte[] elf = KernelFiles.elf();
        assertTrue(failure(Arrays.copyOf(elf, 40)).contains("truncated"));
        assertTrue(failure(Arrays.copyOf(elf, 80)).contains("program headers lie beyond the end"));
        assertTrue(failure(Arrays.copyOf(elf, elf.length - 1)).contains("truncated: segment 0"));
    }

    @Test
    void rejectsCorruptElfHeaders() {
        byte[] wrongMachine = KernelFiles.elf();
        wrongMachine[18] = 3; // EM_386
        assertTrue(failure(wrongMachine).contains("not an x86-64 executable"));

        byte[] thirtyTwoBit = KernelFiles.elf();
        thirtyTwoBit[4] = 1;
        assertTrue(failure(thirtyTwoBit).contains("not a 64-bit little-endian ELF"));

        ByteBuffer entryOutside = ByteBuffer.wrap(KernelFiles.elf()).order(ByteOrder.LITTLE_ENDIAN);
        entryOutside.putLong(24, 0x5000_0000L);
        assertTrue(failure(entryOutside.array()).contains("entry point 0x50000000 is in no loaded segment"));

        ByteBuffer hugeCount = ByteBuffer.wrap(KernelFiles.elf()).order(ByteOrder.LITTLE_ENDIAN);
        hugeCount.putShort(56, (short) 0xffff);
        assertTrue(failure(hugeCount.array()).contains("program headers lie beyond"));

        ByteBuffer fileBiggerThanMemory = ByteBuffer.wrap(KernelFiles.elf()).order(ByteOrder.LITTLE_ENDIAN);
        fileBiggerThanMemory.putLong(64 + 40, 0x10);
        assertTrue(failure(fileBiggerThanMemory.array()).contains("more file bytes than memory bytes"));
    }

    @Test
    void rejectsElfSegmentsOutsideGuestMemoryOrOverTheBootStructures() {
        ByteBuffer high = ByteBuffer.wrap(KernelFiles.elf()).order(ByteOrder.LITTLE_ENDIAN);
        high.putLong(64 + 24, 0x7000_0000L).putLong(24, 0x7000_0000L);
        assertTrue(failure(high.array()).contains("does not fit in guest memory (64 MiB)"));

        ByteBuffer low = ByteBuffer.wrap(KernelFiles.elf()).order(ByteOrder.LITTLE_ENDIAN);
        low.putLong(64 + 24, 0x7000).putLong(24, 0x7000);
        assertTrue(failure(low.array()).contains("below 1 MiB"));
    }

    @Test
    void rejectsTruncatedAndUnsupportedBzImages() {
        byte[] bz = KernelFiles.bzImage();
        assertTrue(failure(Arrays.copyOf(bz, bz.length - 16)).contains("truncated: header declares 2048 kernel bytes"));
        assertTrue(failure(Arrays.copyOf(bz, 0x240)).contains("truncated"));

        byte[] old = KernelFiles.bzImage();
        old[0x206] = 0x0a; // protocol 2.10
        assertTrue(failure(old).contains("boot protocol 2.10; vmguard needs 2.12"));

        byte[] thirtyTwoBit = KernelFiles.bzImage();
        thirtyTwoBit[0x236] = 0;
        assertTrue(failure(thirtyTwoBit).contains("no 64-bit entry point"));
    }

    @Test
    void rejectsABzImageWhoseDecompressedKernelDoesNotFit() {
        ByteBuffer huge = ByteBuffer.wrap(KernelFiles.bzImage()).order(ByteOrder.LITTLE_ENDIAN);
        huge.putInt(0x260, 0x1000_0000);
        assertTrue(failure(huge.array()).contains("needs 256 MiB at 0x1000000 to decompress; guest memory is 64 MiB"));
    }

    @Test
    void loadingIsRepeatableFromTheSameFile() throws Exception {
        Path file = KernelFiles.write(dir, "vmlinux", KernelFiles.elf());
        KernelImage.open(file, arena).loadInto(memory);
        byte[] first = memory.readBytes(KernelFiles.ELF_LOAD_ADDRESS, KernelFiles.ELF_MEMORY_BYTES);
        KernelImage.open(file, arena).loadInto(memory);
        assertArrayEquals(first, memory.readBytes(KernelFiles.ELF_LOAD_ADDRESS, KernelFiles.ELF_MEMORY_BYTES));
        assertTrue(Files.size(file) > 0);
    }
}
