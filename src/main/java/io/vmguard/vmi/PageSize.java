package io.vmguard.vmi;

/** The x86-64 page sizes a translation can end in. */
public enum PageSize {
    SIZE_4K(1L << 12),
    SIZE_2M(1L << 21),
    SIZE_1G(1L << 30);

    private final long bytes;

    PageSize(long bytes) {
        this.bytes = bytes;
    }

    public long bytes() {
        return bytes;
    }

    /** The offset of {@code address} inside its page of this size. */
    public long offset(long address) {
        return address & (bytes - 1);
    }
}
