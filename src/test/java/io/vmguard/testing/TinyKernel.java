package io.vmguard.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A "kernel" of a few instructions in a minimal x86-64 ELF, so that InstanceStart can boot something in
 * milliseconds without the guest image. vmguard enters it in long mode at its physical entry point.
 */
public final class TinyKernel {
    private static final long LOAD_ADDRESS = 0x100_0000;
    private static final int DATA_OFFSET = 0x100;

    private TinyKernel() {}

    /** {@code mov al, status; out 0xf4, al; jmp $}: powers off at once through vmguard's exit port. */
    public static byte[] powerOff(int status) {
        return new byte[] {(byte) 0xb0, (byte) status, (byte) 0xe6, (byte) 0xf4, (byte) 0xeb, (byte) 0xfe};
    }

    /** {@code pause; jmp $-2}: runs until stopped, for pause and resume. */
    public static byte[] spin() {
        return new byte[] {(byte) 0xf3, (byte) 0x90, (byte) 0xeb, (byte) 0xfc};
    }

    public static Path write(Path dir, String name, byte[] code) throws IOException {
        int phoff = 64;
        ByteBuffer b = ByteBuffer.allocate(DATA_OFFSET + 0x200).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1);
        b.putLong(24, LOAD_ADDRESS).putLong(32, phoff).putShort(52, (short) 64);
        b.putShort(54, (short) 56).putShort(56, (short) 1);
        b.putInt(phoff, 1).putInt(phoff + 4, 7).putLong(phoff + 8, DATA_OFFSET);
        b.putLong(phoff + 16, 0xffffffff80000000L + LOAD_ADDRESS).putLong(phoff + 24, LOAD_ADDRESS);
        b.putLong(phoff + 32, 0x200).putLong(phoff + 40, 0x1000);
        b.put(DATA_OFFSET, code);
        return Files.write(dir.resolve(name), b.array());
    }
}
