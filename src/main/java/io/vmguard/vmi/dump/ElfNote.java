package io.vmguard.vmi.dump;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * One ELF note: a 12-byte header (namesz, descsz, type), the NUL-terminated name and the descriptor, each
 * padded to 4 bytes. ELF64 core files use the same 4-byte note alignment as ELF32 (QEMU, the kernel, gdb
 * and crash all agree on it).
 */
record ElfNote(String name, int type, byte[] descriptor) {
    static final int NT_PRSTATUS = 1;
    private static final int HEADER_BYTES = 12;

    /** Bytes this note takes in the notes segment. */
    int size() {
        return HEADER_BYTES + align4(nameBytes().length) + align4(descriptor.length);
    }

    void writeTo(ByteBuffer out) {
        ByteBuffer le = out.order(ByteOrder.LITTLE_ENDIAN);
        byte[] nameBytes = nameBytes();
        le.putInt(nameBytes.length).putInt(descriptor.length).putInt(type);
        le.put(nameBytes);
        pad(le, nameBytes.length);
        le.put(descriptor);
        pad(le, descriptor.length);
    }

    private byte[] nameBytes() {
        byte[] ascii = name.getBytes(StandardCharsets.US_ASCII);
        byte[] terminated = new byte[ascii.length + 1];
        System.arraycopy(ascii, 0, terminated, 0, ascii.length);
        return terminated;
    }

    private static void pad(ByteBuffer out, int length) {
        for (int i = length; i < align4(length); i++) {
            out.put((byte) 0);
        }
    }

    static int align4(int length) {
        return (length + 3) & ~3;
    }
}
