package io.vmguard.memory;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Guest RAM: a sorted set of non-overlapping regions, each an anonymous mmap (zero-filled and lazily
 * committed by the host, and shareable with KVM memory slots).
 *
 * <p>Every access is bounds-checked against one region: a guest physical range that is not wholly inside
 * a single region throws {@link GuestMemoryException} and never touches host memory outside it.
 */
public final class GuestMemory implements AutoCloseable {
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final List<MemoryRegion> regions;
    /** Owns the mappings when vmguard made them: closing it unmaps them and invalidates every view. */
    private final Arena lifetime;
    /** Anonymous mappings of this process: a page the guest never touched is zero (see {@link #anonymous()}). */
    private final boolean anonymous;
    /** Set while pages are still arriving (a lazily restored sealed snapshot); null when all are in place. */
    private volatile LazyFill filling;

    private GuestMemory(List<MemoryRegion> regions, Arena lifetime, boolean anonymous) {
        this.anonymous = anonymous;
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparingLong(MemoryRegion::start));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).start() < sorted.get(i - 1).end()) {
                throw new IllegalArgumentException("guest memory regions overlap at 0x" + Long.toHexString(sorted.get(i).start()));
            }
        }
        this.regions = List.copyOf(sorted);
        this.lifetime = lifetime;
    }

    /**
     * Maps anonymous host memory for each {@code (start, size)} range of the layout, kept out of core dumps and
     * offered transparent huge pages, as QEMU and Cloud Hypervisor offer them for guest RAM: the guest's first
     * touch of 2 MiB is then one host page fault instead of 512 (a boot: a quarter fewer faults, 3 % faster,
     * docs/benchmarks.md#session13-idle), and fewer host TLB entries cover guest RAM. The host's
     * {@code transparent_hugepage/enabled} still decides ("never" turns it off for every process; that is the knob
     * for hosts that favour density).
     */
    public static GuestMemory allocate(List<Range> layout) throws NativeException {
        Arena lifetime = Arena.ofShared();
        List<MemoryRegion> regions = new ArrayList<>();
        try {
            for (Range range : layout) {
                MemorySegment mapping = Libc.mmap(range.size(), Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
                regions.add(new MemoryRegion(range.start(), mapping.reinterpret(range.size(), lifetime, Libc::munmap)));
                Libc.madvise(mapping, Libc.MADV_DONTDUMP);
                offerHugePages(mapping);
            }
        } catch (NativeException e) {
            lifetime.close();
            throw e;
        }
        return new GuestMemory(regions, lifetime, true);
    }

    /** Asks for transparent huge pages; a kernel built without them refuses (EINVAL), and 4 KiB pages serve as well. */
    private static void offerHugePages(MemorySegment mapping) throws NativeException {
        try {
            Libc.madvise(mapping, Libc.MADV_HUGEPAGE);
        } catch (NativeException e) {
            if (e.errno() != Libc.EINVAL) {
                throw e;
            }
        }
    }

    /** Guest RAM from {@code backend} for the layout; see {@link MemoryBackend}. */
    public static GuestMemory allocate(List<Range> layout, MemoryBackend backend) throws NativeException {
        return switch (backend) {
            case ANONYMOUS -> allocate(layout);
            case SECRET -> allocateSecret(layout);
        };
    }

    /**
     * One memfd_secret file for all of guest RAM, each region a shared mapping of its part. The kernel marks
     * secretmem mappings locked and not dumpable itself; MADV_DONTDUMP is asked for all the same. A page never
     * touched is not present in this process's page map and reads as zero, as anonymous memory does.
     */
    private static GuestMemory allocateSecret(List<Range> layout) throws NativeException {
        long total = layout.stream().mapToLong(Range::size).sum();
        int fd = Libc.memfdSecret(Libc.O_CLOEXEC);
        Arena lifetime = Arena.ofShared();
        List<MemoryRegion> regions = new ArrayList<>();
        try {
            Libc.ftruncate(fd, total);
            long offset = 0;
            for (Range range : layout) {
                MemorySegment mapping = Libc.mmap(range.size(), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, offset);
                regions.add(new MemoryRegion(range.start(), mapping.reinterpret(range.size(), lifetime, Libc::munmap)));
                Libc.madvise(mapping, Libc.MADV_DONTDUMP);
                offset += range.size();
            }
        } catch (NativeException e) {
            lifetime.close();
            throw e;
        } finally {
            Libc.close(fd); // the mappings keep the file
        }
        return new GuestMemory(regions, lifetime, true);
    }

    /** Takes over mappings made elsewhere (a snapshot's memory file): closing this closes {@code lifetime}. */
    static GuestMemory adopt(List<MemoryRegion> regions, Arena lifetime) {
        return new GuestMemory(regions, lifetime, false);
    }

    /** Wraps segments the caller owns (tests use heap or arena segments). */
    public static GuestMemory wrap(List<MemoryRegion> regions) {
        return new GuestMemory(regions, null, false);
    }

    /** A guest physical range. */
    public record Range(long start, long size) {
        public Range {
            if (start < 0 || size <= 0 || start + size < start) {
                throw new IllegalArgumentException("bad guest memory range start=0x" + Long.toHexString(start) + " size=" + size);
            }
        }

        public long end() {
            return start + size;
        }
    }

    /**
     * Whether every region is an anonymous mapping this process made: then a page that is neither present
     * nor swapped out has never been touched and reads as zero. Not so for memory mapped from a snapshot
     * file (an untouched page holds the file's bytes) or for segments a caller wrapped.
     */
    public boolean anonymous() {
        LazyFill pending = filling;
        return anonymous && (pending == null || pending.complete());
    }

    /**
     * Hands this memory's filling to {@code fill} (made by whoever registered the mappings for it, before any
     * page was touched): until it completes, a missing page is not a zero page, and closing this memory
     * stops it first.
     */
    public void fillLazily(LazyFill fill) {
        if (filling != null) {
            throw new IllegalStateException("guest memory is being filled already");
        }
        filling = fill;
    }

    /** The filling still under way, if any. */
    public java.util.Optional<LazyFill> filling() {
        LazyFill pending = filling;
        return pending == null || pending.complete() ? java.util.Optional.empty() : java.util.Optional.of(pending);
    }

    public List<MemoryRegion> regions() {
        return regions;
    }

    public long totalSize() {
        return regions.stream().mapToLong(MemoryRegion::size).sum();
    }

    /** The highest guest physical address plus one. */
    public long end() {
        return regions.isEmpty() ? 0 : regions.getLast().end();
    }

    public boolean contains(long address, long length) {
        return findRegion(address, length) != null;
    }

    /**
     * A view of guest RAM {@code [address, address + length)}; the range must lie inside one region.
     * Writes through the view reach guest memory.
     */
    public MemorySegment slice(long address, long length) {
        MemoryRegion region = findRegion(address, length);
        if (region == null) {
            throw new GuestMemoryException("guest physical range 0x" + Long.toHexString(address) + "+" + length
                    + " is outside guest RAM");
        }
        return region.backing().asSlice(address - region.start(), length);
    }

    public void read(long address, MemorySegment destination) {
        MemorySegment.copy(slice(address, destination.byteSize()), 0, destination, 0, destination.byteSize());
    }

    public void write(long address, MemorySegment source) {
        MemorySegment.copy(source, 0, slice(address, source.byteSize()), 0, source.byteSize());
    }

    public void write(long address, byte[] bytes) {
        write(address, bytes, 0, bytes.length);
    }

    public void write(long address, byte[] bytes, int offset, int length) {
        MemorySegment.copy(bytes, offset, slice(address, length), BYTE, 0, length);
    }

    public byte[] readBytes(long address, int length) {
        byte[] bytes = new byte[length];
        MemorySegment.copy(slice(address, length), BYTE, 0, bytes, 0, length);
        return bytes;
    }

    /** Zero-fills a range. */
    public void fill(long address, long length, byte value) {
        slice(address, length).fill(value);
    }

    public byte readByte(long address) {
        return slice(address, 1).get(BYTE, 0);
    }

    public short readShort(long address) {
        return slice(address, 2).get(SHORT, 0);
    }

    public int readInt(long address) {
        return slice(address, 4).get(INT, 0);
    }

    public long readLong(long address) {
        return slice(address, 8).get(LONG, 0);
    }

    public void writeByte(long address, byte value) {
        slice(address, 1).set(BYTE, 0, value);
    }

    public void writeShort(long address, short value) {
        slice(address, 2).set(SHORT, 0, value);
    }

    public void writeInt(long address, int value) {
        slice(address, 4).set(INT, 0, value);
    }

    public void writeLong(long address, long value) {
        slice(address, 8).set(LONG, 0, value);
    }

    private MemoryRegion findRegion(long address, long length) {
        for (MemoryRegion region : regions) {
            if (region.contains(address, length)) {
                return region;
            }
        }
        return null;
    }

    @Override
    public void close() {
        LazyFill pending = filling;
        if (pending != null) {
            pending.close();
        }
        if (lifetime != null) {
            lifetime.close();
        }
    }
}
