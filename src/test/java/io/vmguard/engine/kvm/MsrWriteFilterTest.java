package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The write filter built from a set of MSRs: as few ranges as fit, only the watched bits cleared. */
class MsrWriteFilterTest {
    private static final int SYSENTER_CS = 0x174;
    private static final int SYSENTER_EIP = 0x176;
    private static final int STAR = 0xc000_0081;
    private static final int LSTAR = 0xc000_0082;
    private static final int SFMASK = 0xc000_0084;

    @Test
    void nearbyMsrsShareARangeAndIndicesAboveTwoToThe31AreUnsigned() {
        MsrWriteFilter filter = MsrWriteFilter.denying(Set.of(LSTAR, SFMASK, SYSENTER_EIP, STAR, SYSENTER_CS));

        List<MsrWriteFilter.Range> ranges = filter.ranges();
        assertEquals(2, ranges.size());
        assertEquals(SYSENTER_CS, ranges.get(0).base());
        assertEquals(3, ranges.get(0).count());
        assertArrayEquals(new int[] {0, 2}, ranges.get(0).denied());
        assertEquals(STAR, ranges.get(1).base());
        assertEquals(4, ranges.get(1).count());
        assertArrayEquals(new int[] {0, 1, 3}, ranges.get(1).denied());
    }

    @Test
    void theStructDeniesWritesOfTheWatchedMsrsOnlyAndAllowsTheRest() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment filter = MsrWriteFilter.denying(Set.of(STAR, SFMASK)).toStruct(arena);

            assertEquals(KvmMsrFilterLayout.DEFAULT_ALLOW, filter.get(ValueLayout.JAVA_INT, 0));
            MemorySegment range = KvmMsrFilterLayout.range(filter, 0);
            assertEquals(KvmMsrFilterRangeLayout.FILTER_WRITE, range.get(ValueLayout.JAVA_INT, 0), "writes only");
            assertEquals(4, range.get(ValueLayout.JAVA_INT, 4));
            assertEquals(STAR, range.get(ValueLayout.JAVA_INT, 8));
            MemorySegment bitmap = range.get(ValueLayout.ADDRESS, 16).reinterpret(Long.BYTES);
            assertEquals(0xffff_ffff_ffff_fff6L, bitmap.get(ValueLayout.JAVA_LONG, 0), "bits 0 and 3 deny, the rest allow");
            assertEquals(0, KvmMsrFilterLayout.range(filter, 1).get(ValueLayout.JAVA_INT, 4), "unused ranges are empty");
        }
    }

    @Test
    void x2apicMsrsAreLeftOutBecauseKvmNeverFiltersThem() {
        assertTrue(MsrWriteFilter.denying(Set.of(0x800, 0x830, 0x8ff)).isEmpty());
        assertEquals(1, MsrWriteFilter.denying(Set.of(0x830, LSTAR)).ranges().size());
    }

    @Test
    void msrsTooScatteredForSixteenRangesAreRefused() {
        Set<Integer> scattered = new HashSet<>();
        for (int i = 0; i < 17; i++) {
            scattered.add(i * 0x10000);
        }
        assertThrows(IllegalArgumentException.class, () -> MsrWriteFilter.denying(scattered));
        scattered.remove(0);
        assertEquals(16, MsrWriteFilter.denying(scattered).ranges().size());
    }

    @Test
    void aRangeSpansAtMostWhatOneBitmapHolds() {
        int widest = KvmMsrFilterLayout.MAX_BITMAP_BYTES * 8;
        assertEquals(1, MsrWriteFilter.denying(Set.of(0, widest - 1)).ranges().size());
        assertEquals(2, MsrWriteFilter.denying(Set.of(0, widest)).ranges().size());
    }
}
