package io.vmguard.arch.x86;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
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
 */
final class GzipInitrd {
    /** A Java array's bound, well above any initramfs a VM boots from. */
    static final long MAX_DECOMPRESSED = 1L << 30;
    private static final int FTEXT_RESERVED = 0xe0;
    private static final int FHCRC = 0x02;
    private static final int FEXTRA = 0x04;
    private static final int FNAME = 0x08;
    private static final int FCOMMENT = 0x10;

    private GzipInitrd() {}

    /** The decompressed archive, or empty to hand the guest the file as it is; at most {@code room} bytes. */
    static Optional<byte[]> decompress(MemorySegment file, long room) {
        room = Math.min(room, MAX_DECOMPRESSED);
        byte[] in = file.toArray(ValueLayout.JAVA_BYTE);
        if (in.length < 18 || (in[0] & 0xff) != 0x1f || (in[1] & 0xff) != 0x8b) {
            return Optional.empty();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(room, Math.min(in.length * 4L, 1 << 28)));
        Inflater inflater = new Inflater(true);
        try {
            int at = 0;
            byte[] chunk = new byte[1 << 16];
            while (at < in.length) {
                if (in[at] == 0) { // padding between archives
                    at++;
                    continue;
                }
                int data = member(in, at);
                if (data < 0) {
                    return Optional.empty();
                }
                inflater.reset();
                inflater.setInput(in, data, in.length - data);
                CRC32 crc = new CRC32();
                long size = 0;
                while (!inflater.finished()) {
                    int n = inflater.inflate(chunk);
                    if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                        return Optional.empty(); // truncated member
                    }
                    size += n;
                    if (out.size() + (long) n > room) {
                        return Optional.empty();
                    }
                    crc.update(chunk, 0, n);
                    out.write(chunk, 0, n);
                }
                int trailer = in.length - inflater.getRemaining();
                if (trailer + 8 > in.length || littleEndian32(in, trailer) != (int) crc.getValue()
                        || littleEndian32(in, trailer + 4) != (int) size) {
                    return Optional.empty();
                }
                at = trailer + 8;
                if (size % 4 != 0 && at < in.length) {
                    // Linux parses each member's archive on its own; joined, the next one must start 4-aligned.
                    return Optional.empty();
                }
            }
        } catch (DataFormatException e) {
            return Optional.empty();
        } finally {
            inflater.end();
        }
        return Optional.of(out.toByteArray());
    }

    /** Where a gzip member's deflate data starts, its header at {@code at} skipped; -1 if it is no gzip member. */
    private static int member(byte[] in, int at) {
        if (at + 10 > in.length || (in[at] & 0xff) != 0x1f || (in[at + 1] & 0xff) != 0x8b || in[at + 2] != 8
                || (in[at + 3] & FTEXT_RESERVED) != 0) {
            return -1;
        }
        int flags = in[at + 3];
        int p = at + 10;
        if ((flags & FEXTRA) != 0) {
            if (p + 2 > in.length) {
                return -1;
            }
            p += 2 + ((in[p] & 0xff) | (in[p + 1] & 0xff) << 8);
        }
        for (int flag : new int[] {FNAME, FCOMMENT}) {
            if ((flags & flag) != 0) {
                while (p < in.length && in[p] != 0) {
                    p++;
                }
                p++;
            }
        }
        if ((flags & FHCRC) != 0) {
            p += 2;
        }
        return p < in.length ? p : -1;
    }

    private static int littleEndian32(byte[] in, int at) {
        return (in[at] & 0xff) | (in[at + 1] & 0xff) << 8 | (in[at + 2] & 0xff) << 16 | (in[at + 3] & 0xff) << 24;
    }
}
