package io.vmguard.vmm;

import io.vmguard.seal.SealedDump;
import io.vmguard.vmi.dump.DumpSink;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A core file going out sealed (--seal): vmi's dump writer into the seal package's chunked AES-GCM file. */
public final class SealedDumpSink implements DumpSink {
    private final SealedDump.Writer writer;

    private SealedDumpSink(SealedDump.Writer writer) {
        this.writer = writer;
    }

    /** Sinks that seal each dump with {@code key} (made fresh for it, {@link SealedDump.Key#fresh}). */
    public static DumpSink.Opener opener(SealedDump.Key key) {
        return target -> new SealedDumpSink(SealedDump.Writer.create(target, key));
    }

    @Override
    public void write(ByteBuffer bytes, long position) throws IOException {
        writer.write(bytes, position);
    }

    @Override
    public void extendTo(long length) {
        writer.extendTo(length);
    }

    @Override
    public void commit() throws IOException {
        writer.commit();
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }
}
