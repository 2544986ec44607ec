package io.vmguard.bus;

/** {@code [base, base + length)} on a bus. */
public record BusRange(long base, long length) {
    public BusRange {
        if (length <= 0) {
            throw new IllegalArgumentException("bus range length must be positive: " + length);
        }
        if (base < 0 || base + length < base) {
            throw new IllegalArgumentException("bus range 0x" + Long.toHexString(base) + "+" + length + " wraps");
        }
    }

    public long end() {
        return base + length;
    }

    public boolean overlaps(BusRange other) {
        return base < other.end() && other.base < end();
    }

    public boolean contains(long address, long size) {
        return address >= base && address - base <= length - size;
    }

    @Override
    public String toString() {
        return String.format("[0x%x, 0x%x)", base, end());
    }
}
