package io.vmguard.av;

import io.vmguard.av.scan.SignatureEngine;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Scans files, in-memory objects and raw memory windows against a {@link SignatureDatabase}. Thread-safe: one
 * scanner serves many threads at once.
 */
public final class Scanner {
    /** Files up to this size are read onto the heap; larger ones are mapped, never read whole into a byte[]. */
    static final long READ_LIMIT = 256 * 1024;

    private final SignatureEngine engine;

    public Scanner(SignatureDatabase db) {
        this.engine = db.engine();
    }

    /**
     * Scans a file as clamscan does, without unpacking archives or executables.
     *
     * @param allMatches false: stop at the first detection (clamscan's default); true: every signature ({@code -z})
     */
    public List<Detection> scanFile(Path file, boolean allMatches) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size <= READ_LIMIT) {
                return scan(MemorySegment.ofArray(Files.readAllBytes(file)), allMatches);
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return scan(mapped, allMatches);
            } catch (InternalError e) {
                // A mapped file truncated under the scan faults on access; the JVM reports it as InternalError.
                throw new IOException("the file changed while it was scanned", e);
            }
        }
    }

    /** Scans bytes as if they were a file (type detection, hashes, offsets relative to the start). */
    public List<Detection> scan(MemorySegment data, boolean allMatches) {
        return engine.scanObject(data, allMatches);
    }

    /**
     * Raw memory (guest code pages): only signatures that apply to raw bytes, i.e. target 0 and ELF-target
     * body signatures at offset {@code *}, and logical signatures built only from such subsignatures without
     * FileSize/EntryPoint/NumberOfSections conditions; no hashes. Every such signature that matches is reported.
     */
    public List<Detection> scanMemory(MemorySegment window) {
        return engine.scanMemory(window);
    }

    /**
     * Raw memory, judging only {@code [focusStart, focusEnd)} of the window: body matches that do not overlap
     * it are left out, and every occurrence counts (a copy elsewhere in the window cannot hide one in it).
     * Logical signatures are evaluated over the whole window.
     */
    public List<Detection> scanMemory(MemorySegment window, long focusStart, long focusEnd) {
        return engine.scanMemory(window, focusStart, focusEnd);
    }

    /** False when the database has no signature usable on raw memory: scanning memory would find nothing. */
    public boolean scansMemory() {
        return engine.scansMemory();
    }
}
