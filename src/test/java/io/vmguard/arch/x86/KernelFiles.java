package io.vmguard.arch.x86;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** Small, well-formed kernel files made byte by byte, for loader tests that must also see them broken. */
final class KernelFiles {
    static final long ELF_LOAD_ADDRESS = 0x100_0000;
    static final long ELF_ENTRY = ELF_LOAD_ADDRESS + 0x40;
    static final int ELF_FILE_BYTES = 0x200;
    static final int ELF_MEMORY_BYTES = 0x3000;
    static final int BZ_SETUP_SECTORS = 3;
    static final int BZ_KERNEL_BYTES = 0x800;

    private KernelFiles() {}

    /** An x86-64 ELF executable with one PT_LOAD: 0x200 file bytes (0xAB...) and a zeroed bss. */
    static byte[] elf() {
        int phoff = 64;
        int dataOffset = 0x100;
        ByteBuffer b = ByteBuffer.allocate(dataOffset + ELF_FILE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1);
        b.putLong(24, ELF_ENTRY).putLong(32, phoff).putShort(52, (short) 64);
        b.putShort(54, (short) 56).putShort(56, (short) 1);
        b.putInt(phoff, 1).putInt(phoff + 4, 7).putLong(phoff + 8, dataOffset);
        b.putLong(phoff + 16, 0xffffffff80000000L + ELF_LOAD_ADDRESS).putLong(phoff + 24, ELF_LOAD_ADDRESS);
        b.putLong(phoff + 32, ELF_FILE_BYTES).putLong(phoff + 40, ELF_MEMORY_BYTES);
        for (int i = 0; i < ELF_FILE_BYTES; i++) {
            b.put(dataOffset + i, (byte) 0xab);
        }
        return b.array();
    }

    /** A bzImage: setup sectors with a protocol 2.15 header, then a "kernel" of 0xCD bytes. */
    static byte[] bzImage() {
        int kernelOffset = (BZ_SETUP_SECTORS + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(kernelOffset + BZ_KERNEL_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) BZ_SETUP_SECTORS);
        b.putInt(0x1f4, BZ_KERNEL_BYTES / 16);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb).put(0x201, (byte) 0x6a); // jmp over the header: header ends at 0x26c
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) 0x020f);
        b.putInt(0x22c, 0x7fffffff);
        b.putInt(0x230, 0x200000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) 0x7f);
        b.putInt(0x238, 2047);
        b.putLong(0x258, 0x100_0000);
        b.putInt(0x260, 0x40_0000);
        for (int i = 0; i < BZ_KERNEL_BYTES; i++) {
            b.put(kernelOffset + i, (byte) 0xcd);
        }
        return b.array();
    }

    static Path write(Path dir, String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }
}
