package io.vmguard.arch.x86;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.OptionalLong;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A gzip-compressed initrd, decompressed by vmguard so that the guest gets the plain archive: Linux takes an
 * uncompressed cpio (or ramdisk image) as it takes a compressed one, and unpacking it is a memory copy instead
 * of the kernel's inflate, which under the interpreter was a fifth of the time to the ready marker
 * (docs/benchmarks.md). Only a file made of nothing but gzip members (and the zero padding Linux allows
 * between archives) is decompressed; anything else (an uncompressed early cpio before a compressed one, a
 * format other than gzip, a corrupt member, an archive too big for the room it may take) goes to the guest
 * unchanged, and the kernel judges it as before.
 *
 * <p>It inflates straight into guest RAM: a buffer on the heap cost more than the inflate itself (first touches of
 * a buffer four times the file, then a copy of the archive out of it: docs/benchmarks.md#session15-initrd).
 */
final class GzipInitrd {
    /** Within a ByteBuffer's int bound, and well above any initramfs a VM boots from. */
    static final long MAX_DECOMPRESSED = 1L << 30;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int FTEXT_RESERVED = 0xe0;
    private static final int FHCRC = 0x02;
    private static final int FEXTRA = 0x04;
    private static final int FNAME = 0x08;
    private static final int FCOMMENT = 0x10;

    private GzipInitrd() {}

    /**
     * Decompresses {@code file} into the start of {@code out} (at most its size, and {@link #MAX_DECOMPRESSED}) and
     * returns the archive's size; or empty, to hand the guest the file as it is, and then what {@code out} holds
     * is unspecified.
     */
    static OptionalLong decompress(MemorySegment file, MemorySegment out) {
        long length = file.byteSize();
        if (length < 18 || length > Integer.MAX_VALUE || byteAt(file, 0) != 0x1f || byteAt(file, 1) != 0x8b) {
            return OptionalLong.empty();
        }
        ByteBuffer input = file.asByteBuffer();
        ByteBuffer output = out.asSlice(0, Math.min(out.byteSize(), MAX_DECOMPRESSED)).asByteBuffer();
        Inflater inflater = new Inflater(true);
        try {
            int at = 0;
            while (at < length) {
                if (byteAt(file, at) == 0) { // padding between archives
                    at++;
                    continue;
                }
                int data = member(file, at);
                if (data < 0) {
                    return OptionalLong.empty();
                }
                inflater.reset();
                inflater.setInput(input.slice(data, (int) length - data));
                CRC32 crc = new CRC32();
                int memberStart = output.position();
                while (!inflater.finished()) {
                    int before = output.position();
                    int n = inflater.inflate(output);
                    if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                        return OptionalLong.empty(); // truncated member
                    }
                    if (n == 0 && !output.hasRemaining()) {
                        return OptionalLong.empty(); // larger than the room it may take
                    }
                    crc.update(output.slice(before, n));
                }
                long size = output.position() - memberStart;
                long trailer = data + inflater.getBytesRead();
                if (trailer + 8 > length || file.get(LE32, trailer) != (int) crc.getValue()
                        || file.get(LE32, trailer + 4) != (int) size) {
                    return OptionalLong.empty();
                }
                at = (int) trailer + 8;
                if (size % 4 != 0 && at < length) {
                    // Linux parses each member's archive on its own; joined, the next one must start 4-aligned.
                    return OptionalLong.empty();
                }
            }
        } catch (DataFormatException e) {
            return OptionalLong.empty();
        } finally {
            inflater.end();
        }
        return OptionalLong.of(output.position());
    }

    /** Where a gzip member's deflate data starts, its header at {@code at} skipped; -1 if it is no gzip member. */
    private static int member(MemorySegment file, int at) {
        long length = file.byteSize();
        if (at + 10 > length || byteAt(file, at) != 0x1f || byteAt(file, at + 1) != 0x8b || byteAt(file, at + 2) != 8
                || (byteAt(file, at + 3) & FTEXT_RESERVED) != 0) {
            return -1;
        }
        int flags = byteAt(file, at + 3);
        int p = at + 10;
        if ((flags & FEXTRA) != 0) {
            if (p + 2 > length) {
                return -1;
            }
            p += 2 + (byteAt(file, p) | byteAt(file, p + 1) << 8);
        }
        for (int flag : new int[] {FNAME, FCOMMENT}) {
            if ((flags & flag) != 0) {
                while (p < length && byteAt(file, p) != 0) {
                    p++;
                }
                p++;
            }
        }
        if ((flags & FHCRC) != 0) {
            p += 2;
        }
        return p < length ? p : -1;
    }

    private static int byteAt(MemorySegment file, long at) {
        return file.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }
}
