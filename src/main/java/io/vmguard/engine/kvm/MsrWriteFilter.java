package io.vmguard.engine.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The kvm_msr_filter that denies guest writes to exactly a set of MSRs and allows everything else: ranges
 * of write-only filtering whose bitmaps are all ones but for the watched MSRs, under the default-allow
 * action. Reads are never filtered. Nearby MSRs share a range, so a plan uses as few of KVM's 16 as it can.
 *
 * <p>x2APIC MSRs (0x800-0x8ff) are left out: KVM never filters them (kvm_msr_allowed() returns true for
 * them before looking at any range), the in-kernel LAPIC handles them.
 */
final class MsrWriteFilter {
    static final int X2APIC_FIRST = 0x800;
    static final int X2APIC_LAST = 0x8ff;
    private static final int MAX_RANGE_MSRS = KvmMsrFilterLayout.MAX_BITMAP_BYTES * Byte.SIZE;

    /** One range: {@code count} MSRs from {@code base}, those at the offsets in {@code denied} trapped. */
    record Range(int base, int count, int[] denied) {}

    private final List<Range> ranges;

    private MsrWriteFilter(List<Range> ranges) {
        this.ranges = List.copyOf(ranges);
    }

    /** The filter that removes filtering (KVM takes a filter with no ranges as "off"). */
    static MsrWriteFilter none() {
        return new MsrWriteFilter(List.of());
    }

    /**
     * The filter trapping writes to {@code msrs}. Throws IllegalArgumentException when they are spread so
     * widely that 16 ranges of {@value #MAX_RANGE_MSRS} MSRs cannot cover them.
     */
    static MsrWriteFilter denying(Set<Integer> msrs) {
        long[] sorted = msrs.stream().mapToLong(Integer::toUnsignedLong)
                .filter(msr -> msr < X2APIC_FIRST || msr > X2APIC_LAST).sorted().toArray();
        List<Range> ranges = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= sorted.length; i++) {
            if (i == sorted.length || sorted[i] - sorted[start] >= MAX_RANGE_MSRS) {
                ranges.add(range(Arrays.copyOfRange(sorted, start, i)));
                start = i;
            }
        }
        if (ranges.size() > KvmMsrFilterLayout.MAX_RANGES) {
            throw new IllegalArgumentException("the watched MSRs need " + ranges.size() + " filter ranges of "
                    + MAX_RANGE_MSRS + " MSRs; KVM allows " + KvmMsrFilterLayout.MAX_RANGES);
        }
        return new MsrWriteFilter(ranges);
    }

    private static Range range(long[] msrs) {
        long base = msrs[0];
        int[] denied = new int[msrs.length];
        for (int i = 0; i < msrs.length; i++) {
            denied[i] = (int) (msrs[i] - base);
        }
        return new Range((int) base, denied[denied.length - 1] + 1, denied);
    }

    List<Range> ranges() {
        return ranges;
    }

    boolean isEmpty() {
        return ranges.isEmpty();
    }

    /** The struct for KVM_X86_SET_MSR_FILTER, its bitmaps allocated in {@code arena} beside it. */
    MemorySegment toStruct(Arena arena) {
        MemorySegment filter = arena.allocate(KvmMsrFilterLayout.LAYOUT);
        KvmMsrFilterLayout.setFlags(filter, KvmMsrFilterLayout.DEFAULT_ALLOW);
        for (int i = 0; i < ranges.size(); i++) {
            Range range = ranges.get(i);
            KvmMsrFilterRangeLayout.write(KvmMsrFilterLayout.range(filter, i), KvmMsrFilterRangeLayout.FILTER_WRITE,
                    range.base(), range.count(), bitmap(arena, range));
        }
        return filter;
    }

    /**
     * KVM copies whole longs of bitmap (BITS_TO_LONGS(nmsrs) * 8 bytes), so the allocation is rounded up to
     * them; the bits past {@code count} are never consulted.
     */
    private static MemorySegment bitmap(Arena arena, Range range) {
        long bytes = (range.count() + 63L) / 64 * Long.BYTES;
        MemorySegment bitmap = arena.allocate(bytes, Long.BYTES);
        bitmap.fill((byte) 0xff);
        for (int offset : range.denied()) {
            long at = offset >>> 3;
            byte bits = bitmap.get(ValueLayout.JAVA_BYTE, at);
            bitmap.set(ValueLayout.JAVA_BYTE, at, (byte) (bits & ~(1 << (offset & 7))));
        }
        return bitmap;
    }
}
