package io.vmguard.memory;

import io.vmguard.snapshot.Phases;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * Guest memory as a snapshot's memory file: one header page, then every RAM region in address order.
 * Pages that hold only zeros are left as holes, so the file takes the space the guest used, not its size;
 * pages the guest never touched are not even read ({@link TouchedPages}).
 * A restore maps the regions copy-on-write ({@code MAP_PRIVATE}) straight from the file: its cost does not
 * grow with guest size, pages are read when first touched, and the file is never written.
 *
 * <p>The header names the snapshot the file belongs to (a random id also kept in the state file), so a
 * memory file paired with another snapshot's state is refused rather than restored into nonsense.
 */
public final class MemoryImage {
    /** The header's size: one page, so every region starts page-aligned in the file, as mmap needs. */
    public static final int HEADER_BYTES = 4096;
    private static final byte[] MAGIC = "VMGMEM01".getBytes(StandardCharsets.US_ASCII);
    private static final int PAGE = 4096;
    /** Zero-testing granularity: a whole untouched chunk is skipped with one comparison. */
    private static final int CHUNK = 64 * 1024;
    private static final MemorySegment ZEROS = Arena.global().allocate(CHUNK);

    private MemoryImage() {}

    /** Where region {@code i} of {@code layout} starts in the file. */
    public static long[] offsets(List<GuestMemory.Range> layout) {
        long[] offsets = new long[layout.size()];
        long next = HEADER_BYTES;
        for (int i = 0; i < layout.size(); i++) {
            offsets[i] = next;
            next += layout.get(i).size();
        }
        return offsets;
    }

    /** The file's exact size for {@code layout}. */
    public static long fileSize(List<GuestMemory.Range> layout) {
        return HEADER_BYTES + layout.stream().mapToLong(GuestMemory.Range::size).sum();
    }

    /**
     * Writes {@code memory} to {@code file} (created or truncated) and forces it to disk before returning.
     * The caller writes to a temporary name and renames, so an existing snapshot survives a crash here.
     *
     * @return the bytes of guest memory actually written (non-zero pages)
     */
    public static long write(GuestMemory memory, Path file, UUID id) throws IOException {
        List<GuestMemory.Range> layout = layoutOf(memory);
        long[] offsets = offsets(layout);
        long written = 0;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long t0 = System.nanoTime();
            channel.write(header(id, layout), 0);
            List<MemoryRegion> regions = memory.regions();
            try (TouchedPages touched = memory.anonymous() ? TouchedPages.open(CHUNK / TouchedPages.PAGE) : null) {
                for (int i = 0; i < regions.size(); i++) {
                    written += writeRegion(channel, regions.get(i).backing(), offsets[i], touched);
                }
            }
            // Extends the file over trailing holes without writing them.
            try (RandomAccessFile sized = new RandomAccessFile(file.toFile(), "rw")) {
                sized.setLength(fileSize(layout));
            }
            Phases.since("save.write", t0);
            long t1 = System.nanoTime();
            channel.force(true);
            Phases.since("save.fsync", t1);
        }
        return written;
    }

    /**
     * Writes the non-zero pages of one region; returns the bytes written. {@code touched}, when there is one,
     * lets whole chunks the guest never touched be skipped without reading them.
     */
    private static long writeRegion(FileChannel channel, MemorySegment region, long fileOffset, TouchedPages touched)
            throws IOException {
        long written = 0;
        long size = region.byteSize();
        for (long chunk = 0; chunk < size; chunk += CHUNK) {
            long length = Math.min(CHUNK, size - chunk);
            if (touched != null && !touched.anyTouched(region.asSlice(chunk, length))) {
                continue;
            }
            if (MemorySegment.mismatch(region, chunk, chunk + length, ZEROS, 0, length) < 0) {
                continue;
            }
            // Some page in the chunk is not zero: write the run of non-zero pages page by page.
            long runStart = -1;
            for (long page = chunk; page < chunk + length; page += PAGE) {
                long pageLength = Math.min(PAGE, chunk + length - page);
                boolean zero = MemorySegment.mismatch(region, page, page + pageLength, ZEROS, 0, pageLength) < 0;
                if (!zero && runStart < 0) {
                    runStart = page;
                } else if (zero && runStart >= 0) {
                    written += writeFully(channel, region.asSlice(runStart, page - runStart), fileOffset + runStart);
                    runStart = -1;
                }
            }
            if (runStart >= 0) {
                written += writeFully(channel, region.asSlice(runStart, chunk + length - runStart), fileOffset + runStart);
            }
        }
        return written;
    }

    private static long writeFully(FileChannel channel, MemorySegment data, long position) throws IOException {
        ByteBuffer buffer = data.asByteBuffer();
        long at = position;
        while (buffer.hasRemaining()) {
            at += channel.write(buffer, at);
        }
        return data.byteSize();
    }

    /**
     * Maps {@code file} as guest memory with {@code layout}, copy-on-write: the guest's writes stay in this
     * process. Checks the header (magic, id, layout) and the file's size first.
     */
    public static GuestMemory map(Path file, List<GuestMemory.Range> layout, UUID id) throws SnapshotException {
        long expectedSize = fileSize(layout);
        long actualSize;
        try {
            actualSize = Files.size(file);
        } catch (IOException e) {
            throw new SnapshotException("cannot read memory file " + file + ": " + e.getMessage(), e);
        }
        if (actualSize != expectedSize) {
            throw new SnapshotException("memory file " + file + " is " + actualSize + " bytes, the snapshot needs "
                    + expectedSize + " (truncated, or from another snapshot)");
        }
        checkHeader(file, layout, id);
        int fd;
        try {
            fd = Libc.open(file.toString(), 0 /* O_RDONLY */ | Libc.O_CLOEXEC);
        } catch (NativeException e) {
            throw new SnapshotException("cannot open memory file " + file + ": " + e.getMessage(), e);
        }
        Arena lifetime = Arena.ofShared();
        try {
            long[] offsets = offsets(layout);
            List<MemoryRegion> regions = new ArrayList<>();
            for (int i = 0; i < layout.size(); i++) {
                GuestMemory.Range range = layout.get(i);
                // PROT_WRITE on a read-only descriptor is allowed for a private mapping: writes copy the page.
                MemorySegment mapping = Libc.mmap(range.size(), Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_PRIVATE | Libc.MAP_NORESERVE, fd, offsets[i]);
                regions.add(new MemoryRegion(range.start(), mapping.reinterpret(range.size(), lifetime, Libc::munmap)));
                Libc.madvise(mapping, Libc.MADV_DONTDUMP); // the guest's pages stay out of vmguard's core dumps
            }
            return GuestMemory.adopt(regions, lifetime);
        } catch (NativeException e) {
            lifetime.close();
            throw new SnapshotException("cannot map memory file " + file + ": " + e.getMessage(), e);
        } finally {
            Libc.close(fd); // the mappings keep the file open
        }
    }

    /**
     * As {@link #map}, for guest RAM from {@code backend}: anonymous restores map the file; secret memory
     * cannot be a file mapping, so the file's pages are copied into it up front (holes left as the fresh
     * memory's zeros) and the mapping dropped.
     */
    public static GuestMemory load(Path file, List<GuestMemory.Range> layout, UUID id, MemoryBackend backend) throws SnapshotException {
        GuestMemory mapped = map(file, layout, id);
        if (backend == MemoryBackend.ANONYMOUS) {
            return mapped;
        }
        try (mapped) {
            GuestMemory memory = GuestMemory.allocate(layout, backend);
            for (int i = 0; i < layout.size(); i++) {
                MemorySegment from = mapped.regions().get(i).backing();
                MemorySegment to = memory.regions().get(i).backing();
                for (long chunk = 0; chunk < from.byteSize(); chunk += CHUNK) {
                    long length = Math.min(CHUNK, from.byteSize() - chunk);
                    if (MemorySegment.mismatch(from, chunk, chunk + length, ZEROS, 0, length) >= 0) {
                        MemorySegment.copy(from, chunk, to, chunk, length);
                    }
                }
            }
            return memory;
        } catch (NativeException e) {
            throw new SnapshotException("cannot allocate " + backend.cliName() + " guest memory for " + file + ": " + e.getMessage(), e);
        }
    }

    private static ByteBuffer header(UUID id, List<GuestMemory.Range> layout) {
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        header.put(MAGIC).putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits()).putInt(layout.size());
        for (GuestMemory.Range range : layout) {
            header.putLong(range.start()).putLong(range.size());
        }
        return header.clear();
    }

    private static void checkHeader(Path file, List<GuestMemory.Range> layout, UUID id) throws SnapshotException {
        ByteBuffer actual = ByteBuffer.allocate(HEADER_BYTES);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            while (actual.hasRemaining() && channel.read(actual, actual.position()) > 0) {
                // read the whole header page
            }
        } catch (IOException e) {
            throw new SnapshotException("cannot read memory file " + file + ": " + e.getMessage(), e);
        }
        byte[] magic = Arrays.copyOf(actual.array(), MAGIC.length);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new SnapshotException("memory file " + file + " is not a vmguard memory file (bad magic)");
        }
        if (!Arrays.equals(actual.array(), header(id, layout).array())) {
            throw new SnapshotException("memory file " + file + " belongs to another snapshot (its id or layout differs)");
        }
    }

    private static List<GuestMemory.Range> layoutOf(GuestMemory memory) {
        return memory.regions().stream().map(r -> new GuestMemory.Range(r.start(), r.size())).toList();
    }
}
