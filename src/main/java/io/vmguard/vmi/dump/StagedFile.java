package io.vmguard.vmi.dump;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A dump written as a {@link io.vmguard.files.StagedFile}: under a temporary 0600 name beside its target,
 * renamed over it only when complete, so a reader never sees half a dump and a failed dump leaves the
 * previous one in place.
 */
final class StagedFile implements DumpSink {
    private final io.vmguard.files.StagedFile file;

    private StagedFile(io.vmguard.files.StagedFile file) {
        this.file = file;
    }

    static StagedFile beside(Path target) throws IOException {
        return new StagedFile(io.vmguard.files.StagedFile.beside(target));
    }

    @Override
    public void write(ByteBuffer bytes, long position) throws IOException {
        while (bytes.hasRemaining()) {
            position += file.channel().write(bytes, position);
        }
    }

    /** Sets the length without writing, so trailing pages of zeros stay a hole. */
    @Override
    public void extendTo(long length) throws IOException {
        file.setLength(length);
    }

    @Override
    public void commit() throws IOException {
        file.commit();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
