package io.vmguard.iommu;

/**
 * One MAP: IOVAs {@code [virtStart, virtEnd]} (inclusive, so a mapping may end at 2^64 - 1 without its size
 * overflowing) to guest-physical {@code physStart} onwards, with the request's flags.
 */
public record Mapping(long virtStart, long virtEnd, long physStart, int flags) {
    public static final int READ = 1;
    public static final int WRITE = 2;
    public static final int MMIO = 4;
    public static final int KNOWN_FLAGS = READ | WRITE | MMIO;

    /** Whether {@code iova} lies inside (unsigned). */
    public boolean contains(long iova) {
        return Long.compareUnsigned(iova, virtStart) >= 0 && Long.compareUnsigned(iova, virtEnd) <= 0;
    }

    /** The guest-physical address of {@code iova}, which must be inside. */
    public long physical(long iova) {
        return physStart + (iova - virtStart);
    }

    public boolean permits(Access access) {
        return (flags & (access == Access.READ ? READ : WRITE)) != 0;
    }
}
