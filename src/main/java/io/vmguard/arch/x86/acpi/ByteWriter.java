package io.vmguard.arch.x86.acpi;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable little-endian byte buffer: what every ACPI table and AML construct is written into. ACPI is
 * little-endian throughout; values are truncated to the width asked for.
 */
final class ByteWriter {
    private byte[] bytes = new byte[256];
    private int size;

    int size() {
        return size;
    }

    ByteWriter u8(int value) {
        ensure(1);
        bytes[size++] = (byte) value;
        return this;
    }

    ByteWriter u16(int value) {
        return u8(value).u8(value >>> 8);
    }

    ByteWriter u32(long value) {
        return u16((int) value).u16((int) (value >>> 16));
    }

    ByteWriter u64(long value) {
        return u32(value).u32(value >>> 32);
    }

    ByteWriter bytes(byte[] value) {
        ensure(value.length);
        System.arraycopy(value, 0, bytes, size, value.length);
        size += value.length;
        return this;
    }

    /** ASCII text, exactly {@code width} bytes: the caller checks the length (signatures, OEM fields are padded by it). */
    ByteWriter ascii(String text, int width) {
        byte[] encoded = text.getBytes(StandardCharsets.US_ASCII);
        if (encoded.length != width) {
            throw new IllegalArgumentException("\"" + text + "\" is not " + width + " ASCII characters");
        }
        return bytes(encoded);
    }

    ByteWriter zeros(int count) {
        ensure(count);
        size += count; // the array is zero beyond size: it only grows, and nothing is ever removed
        return this;
    }

    byte[] toArray() {
        return Arrays.copyOf(bytes, size);
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + more));
        }
    }
}
