package io.vmguard.engine;

/**
 * A segment register in its hidden (descriptor-cache) form, as KVM's kvm_segment holds it.
 *
 * @param type the 4-bit descriptor type (e.g. 0xb execute/read accessed code, 0x3 read/write accessed data)
 * @param s    1 for code/data segments, 0 for system segments (TSS, LDT)
 * @param l    64-bit code segment
 * @param db   default operand size 32-bit (must be 0 when l is set)
 * @param g    limit granularity 4 KiB
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /** A flat 64-bit ring-0 code segment. */
    public static Segment code64(int selector) {
        return new Segment(0, 0xffffffff, selector, 0xb, true, 0, false, true, true, true, false, false);
    }

    /** A flat ring-0 data segment. */
    public static Segment data(int selector) {
        return new Segment(0, 0xffffffff, selector, 0x3, true, 0, true, true, false, true, false, false);
    }

    /** A 64-bit TSS (busy). */
    public static Segment tss(int selector, long base, int limit) {
        return new Segment(base, limit, selector, 0xb, true, 0, false, false, false, false, false, false);
    }

    /**
     * The hidden part of a segment register loaded from an 8-byte GDT/LDT {@code descriptor} through
     * {@code selector}: base and limit unscrambled, the limit scaled by the granularity bit.
     */
    public static Segment fromDescriptor(long descriptor, int selector) {
        long base = ((descriptor >>> 16) & 0xff_ffffL) | ((descriptor >>> 32) & 0xff00_0000L);
        int rawLimit = (int) ((descriptor & 0xffff) | ((descriptor >>> 32) & 0xf_0000));
        int flags = (int) ((descriptor >>> 40) & 0xf0ff);
        boolean granular = (flags & 0x8000) != 0;
        int limit = granular ? (rawLimit << 12) | 0xfff : rawLimit;
        boolean present = (flags & 0x80) != 0;
        return new Segment(base, limit, selector, flags & 0xf, present, (flags >> 5) & 3,
                (flags & 0x4000) != 0, (flags & 0x10) != 0, (flags & 0x2000) != 0, granular, (flags & 0x1000) != 0,
                !present);
    }

    /** An LDT selector that is not in use. */
    public static Segment unusableLdt() {
        return new Segment(0, 0, 0, 0x2, false, 0, false, false, false, false, false, true);
    }
}
