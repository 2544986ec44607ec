package io.vmguard.vmi.dump;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Where a core file's bytes go: written at positions front to back (headers, notes, then memory in file
 * order, pages of zeros skipped), given its final length, then committed in one step or, when closed
 * uncommitted, discarded. A plain file ({@link StagedFile}) or a sealed one (vmm's sealed dumps).
 */
public interface DumpSink extends AutoCloseable {
    void write(ByteBuffer bytes, long position) throws IOException;

    /** The file's whole length; what was not written reads as zeros. */
    void extendTo(long length) throws IOException;

    /** Makes the complete file appear at its target, replacing any earlier one there. */
    void commit() throws IOException;

    @Override
    void close() throws IOException;

    /** Opens a sink that will end up at {@code target}. */
    @FunctionalInterface
    interface Opener {
        DumpSink open(Path target) throws IOException;
    }
}
