package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.memory.GuestMemory;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Multiboot v1 loader on a hand-made a.out-kludge image (header at offset 0x40, code after it): what
 * lands where, the information structure field by field, the entry state, and the one-line refusals of
 * bad headers.
 */
class MultibootKernelTest {
    private static final int MAGIC = 0x1BADB002;
    private static final long LOAD = 0x200000;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    /** 0x40 bytes of padding, the header, then 0x20 code bytes at 0x60 (entry), 0x1000 bytes of bss. */
    private static byte[] aoutKernel(int flags, long headerAddress, long loadAddress, long loadEnd, long bssEnd, long entry) {
        ByteBuffer b = ByteBuffer.allocate(0x80).order(ByteOrder.LITTLE_ENDIAN);
        b.position(0x40);
        b.putInt(MAGIC).putInt(flags).putInt(-(MAGIC + flags));
        b.putInt((int) headerAddress).putInt((int) loadAddress).putInt((int) loadEnd).putInt((int) bssEnd).putInt((int) entry);
        b.position(0x60);
        b.put(new byte[] {(byte) 0xf4, (byte) 0xeb, (byte) 0xfd}); // hlt; jmp back
        return b.array();
    }

    private static byte[] standardKernel() {
        return aoutKernel(0x10003, LOAD + 0x40, LOAD, LOAD + 0x80, LOAD + 0x1080, LOAD + 0x60);
    }

    private Path write(String name, byte[] bytes) throws Exception {
        Path file = dir.resolve(name);
        Files.write(file, bytes);
        return file;
    }

    @Test
    void anAoutKludgeKernelIsLoadedAndGivenTheInformationStructure() throws Exception {
        Path kernel = write("kernel.bin", standardKernel());
        Path module = write("module.img", "module contents".getBytes(StandardCharsets.US_ASCII));
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(32L << 20))) {
            memory.fill(LOAD + 0x80, 0x1000, (byte) 0x55); // the bss must come out zeroed
            BootState boot = LinuxBoot.prepare(memory, kernel, module, "root=none mb=1");
            assertEquals(MultibootKernel.BOOTLOADER_MAGIC, boot.registers().rax());
            assertEquals(MultibootKernel.INFO, boot.registers().rbx());
            assertEquals(LOAD + 0x60, boot.registers().rip());
            SpecialRegisters s = boot.specialRegisters();
            assertEquals(SpecialRegisters.CR0_PE, s.cr0() & (SpecialRegisters.CR0_PE | SpecialRegisters.CR0_PG), "PE, no PG");
            assertTrue(s.cs().db() && !s.cs().l() && s.cs().limit() == -1 && s.cs().base() == 0, "flat 32-bit code");
            assertEquals(0, s.efer());
            assertEquals((byte) 0xf4, memory.readByte(LOAD + 0x60), "code at load_addr + (entry - load_addr)");
            assertEquals(0, memory.readByte(LOAD + 0x80 + 0xfff), "bss zeroed");

            long info = MultibootKernel.INFO;
            int flags = read32(memory, info);
            assertEquals(0x1 | 0x4 | 0x8 | 0x40 | 0x200, flags, "memory, cmdline, modules, mmap, loader name");
            assertEquals(639, read32(memory, info + 4), "mem_lower: KiB below the EBDA");
            assertEquals((32 << 10) - 1024, read32(memory, info + 8), "mem_upper: KiB from 1 MiB");
            assertEquals("root=none mb=1", string(memory, read32(memory, info + 16)));
            assertEquals(1, read32(memory, info + 20), "mods_count");
            long mod = read32(memory, info + 24);
            long modStart = read32(memory, mod) & 0xffff_ffffL;
            long modEnd = read32(memory, mod + 4) & 0xffff_ffffL;
            assertEquals(0, modStart & 0xfff, "page aligned");
            assertTrue(modStart >= LOAD + 0x1080, "after the kernel and its bss");
            assertEquals(15, modEnd - modStart);
            assertEquals("module contents", new String(memory.readBytes(modStart, 15), StandardCharsets.US_ASCII));
            assertEquals("module.img", string(memory, read32(memory, mod + 8)));
            int mmapLength = read32(memory, info + 44);
            long mmap = read32(memory, info + 48);
            assertEquals(E820Map.of(memory).size() * 24, mmapLength);
            assertEquals(20, read32(memory, mmap), "entry size field");
            assertEquals(0, memory.slice(mmap + 4, 8).get(U64, 0), "first region at 0");
            assertEquals(1, read32(memory, mmap + 20), "RAM");
            assertEquals("vmguard", string(memory, read32(memory, info + 64)));
        }
    }

    @Test
    void badHeadersAreRefusedInOneLine() throws Exception {
        byte[][] bad = {
            aoutKernel(0x10003, LOAD + 0x40, LOAD + 0x100, 0, 0, LOAD + 0x60),    // load_addr above header_addr
            aoutKernel(0x10003, LOAD + 0x40, LOAD, LOAD + 0x10000, 0, LOAD + 0x60), // load_end beyond the file
            aoutKernel(0x10003, LOAD + 0x40, LOAD, 0, 0, LOAD + 0x5000),           // entry outside the image
            aoutKernel(0x10003, 0x1040, 0x1000, 0, 0, 0x1060),                      // below 1 MiB
            aoutKernel(0x00003, LOAD + 0x40, LOAD, 0, 0, LOAD + 0x60),             // no kludge and not an ELF
            aoutKernel(0x10013, LOAD + 0x40, LOAD, 0, 0, LOAD + 0x60),             // an unknown required flag
        };
        for (int i = 0; i < bad.length; i++) {
            Path kernel = write("bad" + i, bad[i]);
            try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(32L << 20))) {
                KernelLoadException e = assertThrows(KernelLoadException.class, () -> LinuxBoot.prepare(memory, kernel, null, ""),
                        "case " + i);
                assertTrue(!e.getMessage().contains("\n") && e.getMessage().contains(kernel.toString()), "case " + i + ": " + e.getMessage());
            }
        }
    }

    @Test
    void aFileWithoutAHeaderIsNotTakenForMultiboot() throws Exception {
        byte[] bytes = standardKernel();
        bytes[0x40] = 0; // magic gone
        Path kernel = write("plain.bin", bytes);
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(32L << 20))) {
            KernelLoadException e = assertThrows(KernelLoadException.class, () -> LinuxBoot.prepare(memory, kernel, null, ""));
            assertTrue(e.getMessage().contains("neither an ELF vmlinux nor a bzImage"), e.getMessage());
        }
    }

    private static int read32(GuestMemory memory, long address) {
        return memory.slice(address, 4).get(U32, 0);
    }

    private static String string(GuestMemory memory, long address) {
        StringBuilder s = new StringBuilder();
        for (long a = address; memory.readByte(a) != 0; a++) {
            s.append((char) memory.readByte(a));
        }
        return s.toString();
    }
}
