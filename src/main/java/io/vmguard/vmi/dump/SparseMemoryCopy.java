package io.vmguard.vmi.dump;

import io.vmguard.vmi.PhysicalMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Streams guest memory into the core file a chunk at a time (one reused buffer, never a copy of all RAM) and
 * leaves pages of zeros as holes, so a mostly idle guest makes a small file.
 */
final class SparseMemoryCopy {
    static final int CHUNK = 1 << 20;
    static final int PAGE = 4096;
    private static final byte[] ZEROS = new byte[CHUNK];

    private final PhysicalMemory memory;
    private final DumpSink file;
    private final DumpProgress progress;
    private final byte[] buffer = new byte[CHUNK];

    SparseMemoryCopy(PhysicalMemory memory, DumpSink file, DumpProgress progress) {
        this.memory = memory;
        this.file = file;
        this.progress = progress;
    }

    /** Copies every segment; returns the bytes actually stored (the pages that were not all zeros). */
    long copy(List<CoreLayout.LoadSegment> loads) throws IOException, DumpException {
        long total = loads.stream().mapToLong(CoreLayout.LoadSegment::size).sum();
        long done = 0;
        long stored = 0;
        for (CoreLayout.LoadSegment load : loads) {
            for (long offset = 0; offset < load.size(); offset += CHUNK) {
                int length = (int) Math.min(CHUNK, load.size() - offset);
                long address = load.guestPhysical() + offset;
                if (!memory.read(address, buffer, 0, length)) {
                    throw new DumpException(String.format("guest memory at %#x (%d bytes) cannot be read", address, length));
                }
                stored += writeNonZeroPages(length, load.fileOffset() + offset);
                done += length;
                progress.progressed(done, total);
            }
        }
        if (loads.isEmpty()) {
            progress.progressed(0, 0);
        }
        return stored;
    }

    private long writeNonZeroPages(int length, long fileOffset) throws IOException {
        if (isZero(0, length)) {
            return 0;
        }
        long stored = 0;
        int runStart = -1;
        for (int page = 0; page < length; page += PAGE) {
            int pageEnd = Math.min(page + PAGE, length);
            boolean zero = isZero(page, pageEnd);
            if (!zero && runStart < 0) {
                runStart = page;
            } else if (zero && runStart >= 0) {
                stored += writeFully(runStart, page, fileOffset);
                runStart = -1;
            }
        }
        if (runStart >= 0) {
            stored += writeFully(runStart, length, fileOffset);
        }
        return stored;
    }

    private boolean isZero(int from, int to) {
        return Arrays.mismatch(buffer, from, to, ZEROS, 0, to - from) < 0;
    }

    private int writeFully(int from, int to, long fileOffset) throws IOException {
        file.write(ByteBuffer.wrap(buffer, from, to - from), fileOffset + from);
        return to - from;
    }
}
