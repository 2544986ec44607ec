package io.vmguard.av.db;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The members of a tar stream (ustar, as sigtool writes it; GNU long names and pax headers are read past). Each
 * member's content is a stream that ends at the member's end; {@link #next()} skips whatever was not read.
 */
final class TarReader {
    private static final int BLOCK = 512;

    private final InputStream in;
    private long remaining;
    private long padding;

    TarReader(InputStream in) {
        this.in = in;
    }

    record Member(String name, long size, InputStream content) {
    }

    /** The next regular file, or null at the end of the archive. */
    Member next() throws IOException {
        skip(remaining + padding);
        remaining = padding = 0;
        String longName = null;
        while (true) {
            byte[] header = in.readNBytes(BLOCK);
            if (header.length < BLOCK) {
                if (header.length == 0) {
                    return null;
                }
                throw new IOException("tar archive ends inside a header");
            }
            if (allZero(header)) {
                return null;
            }
            checkSum(header);
            long size = number(header, 124, 12);
            if (size < 0) {
                throw new IOException("tar header with a bad size");
            }
            long pad = (BLOCK - size % BLOCK) % BLOCK;
            byte type = header[156];
            if (type == 'L') {
                if (size > 4096) {
                    throw new IOException("tar long name of " + size + " bytes");
                }
                longName = text(in.readNBytes((int) size), 0, (int) size);
                skip(pad);
                continue;
            }
            if (type != '0' && type != 0 && type != '7') {
                skip(size + pad);
                continue;
            }
            String name = longName != null ? longName : name(header);
            remaining = size;
            padding = pad;
            return new Member(name, size, new MemberStream());
        }
    }

    private final class MemberStream extends InputStream {
        @Override
        public int read() throws IOException {
            if (remaining == 0) {
                return -1;
            }
            int b = in.read();
            if (b < 0) {
                throw new IOException("tar archive ends inside a member");
            }
            remaining--;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (remaining == 0) {
                return -1;
            }
            int n = in.read(b, off, (int) Math.min(len, remaining));
            if (n < 0) {
                throw new IOException("tar archive ends inside a member");
            }
            remaining -= n;
            return n;
        }
    }

    private void skip(long n) throws IOException {
        while (n > 0) {
            long skipped = in.skip(n);
            if (skipped <= 0) {
                if (in.read() < 0) {
                    throw new IOException("tar archive ends inside a member");
                }
                skipped = 1;
            }
            n -= skipped;
        }
    }

    private static String name(byte[] header) {
        String name = text(header, 0, 100);
        // ustar: a prefix (the directory) in bytes 345..500.
        if (header[257] == 'u' && header[258] == 's' && header[259] == 't' && header[260] == 'a' && header[261] == 'r') {
            String prefix = text(header, 345, 155);
            if (!prefix.isEmpty()) {
                name = prefix + "/" + name;
            }
        }
        return name;
    }

    private static String text(byte[] bytes, int offset, int length) {
        int end = offset;
        while (end < offset + length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, offset, end - offset, StandardCharsets.ISO_8859_1);
    }

    /** Octal, space or NUL terminated; or base-256 (GNU) when the top bit of the first byte is set. */
    private static long number(byte[] header, int offset, int length) {
        if ((header[offset] & 0x80) != 0) {
            long value = header[offset] & 0x7f;
            for (int i = 1; i < length; i++) {
                if (value > (Long.MAX_VALUE >> 8)) {
                    return -1;
                }
                value = (value << 8) | (header[offset + i] & 0xff);
            }
            return value;
        }
        long value = 0;
        int i = offset;
        while (i < offset + length && header[i] == ' ') {
            i++;
        }
        for (; i < offset + length && header[i] >= '0' && header[i] <= '7'; i++) {
            value = value * 8 + (header[i] - '0');
        }
        return value;
    }

    private static void checkSum(byte[] header) throws IOException {
        long stored = number(header, 148, 8);
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : header[i] & 0xff;
        }
        if (sum != stored) {
            throw new IOException("tar header checksum does not match");
        }
    }

    private static boolean allZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }
}
