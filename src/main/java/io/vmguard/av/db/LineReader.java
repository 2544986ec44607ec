package io.vmguard.av.db;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Database lines from a stream, bounded: a line longer than {@link #MAX_LINE} bytes is cut there, the rest of
 * it skipped and {@link #truncated()} set, so a hostile file cannot make one line take all memory. Lines are
 * decoded as ISO-8859-1 (one char per byte: names and hex stay exact, and the MD5 of a line for .ign2 is the
 * MD5 of the file's bytes); a trailing CR is dropped, as cli_chomp does.
 */
final class LineReader {
    /** ClamAV reads .ldb lines into 32 KiB (CLI_DEFAULT_LSIG_BUFSIZE); twice that leaves room and stays small. */
    static final int MAX_LINE = 64 * 1024;

    private final InputStream in;
    private final byte[] buffer = new byte[64 * 1024];
    private int position;
    private int limit;
    private byte[] line = new byte[256];
    private int number;
    private boolean truncated;

    LineReader(InputStream in) {
        this.in = in;
    }

    /** The next line without its terminator, or null at the end of the stream. */
    String next() throws IOException {
        int length = 0;
        truncated = false;
        boolean any = false;
        while (true) {
            if (position == limit) {
                limit = in.read(buffer, 0, buffer.length);
                position = 0;
                if (limit <= 0) {
                    limit = 0;
                    if (!any) {
                        return null;
                    }
                    break;
                }
            }
            any = true;
            byte b = buffer[position++];
            if (b == '\n') {
                break;
            }
            if (length < MAX_LINE) {
                if (length == line.length) {
                    line = Arrays.copyOf(line, Math.min(MAX_LINE, line.length * 2));
                }
                line[length++] = b;
            } else {
                truncated = true;
            }
        }
        number++;
        if (length > 0 && line[length - 1] == '\r') {
            length--;
        }
        return new String(line, 0, length, StandardCharsets.ISO_8859_1);
    }

    /** The 1-based number of the line {@link #next()} returned last. */
    int number() {
        return number;
    }

    /** Whether the last line was longer than {@link #MAX_LINE} and was cut. */
    boolean truncated() {
        return truncated;
    }
}
