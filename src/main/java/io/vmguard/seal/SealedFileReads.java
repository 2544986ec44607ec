package io.vmguard.seal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Positional reads of sealed files that must fill their buffer: a file that ends early is a one-line error. */
final class SealedFileReads {
    private SealedFileReads() {}

    /** Fills {@code buffer} from {@code position}; {@code what} names the file in the error. */
    static void readFully(FileChannel channel, ByteBuffer buffer, long position, String what) throws IOException, SealException {
        if (position < 0) { // a length field larger than the file put the read before its start
            throw new SealException(what + " is cut short");
        }
        long at = position;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, at);
            if (n < 0) {
                throw new SealException(what + " is cut short");
            }
            at += n;
        }
    }
}
