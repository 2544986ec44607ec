package io.vmguard.av.match;

import static io.vmguard.av.match.Scans.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Where ClamAV's approximations miss a real match, vmguard reports it. ClamAV remembers, for each earlier part of
 * a multi-part signature, only the first and the last 8 occurrences (CLI_DEFAULT_AC_TRACKLEN); research notes
 * section 4.4 show clamscan saying OK on such a file.
 */
class MatchesEveryOccurrenceTest {
    @Test
    void validFirstPartFollowedByNineMoreIsStillFound() {
        String a = "ABCD", b = "EFGH";
        char[] d = new char[600];
        Arrays.fill(d, 'x');
        put(d, 0, a);                 // 1st A: too far from B (gap 450)
        put(d, 300, a);               // 2nd A: gap 150, the valid one
        for (int i = 0; i < 9; i++) {
            put(d, 400 + 5 * i, a);   // 9 more A's: too close to B (gap <= 50)
        }
        put(d, 454, b);
        String sig = "41424344{100-200}45464748";
        List<long[]> m = matches(sig, ascii(new String(d)));
        assertEquals(1, m.size());
        assertArrayEquals(new long[] {300, 458}, m.get(0));
    }

    @Test
    void everyFirstPartWithinRangeIsAStart() {
        char[] d = new char[400];
        Arrays.fill(d, 'x');
        put(d, 100, "ABCD");
        put(d, 150, "ABCD");
        put(d, 200, "ABCD");
        put(d, 300, "EFGH");
        assertEquals(List.of(100L, 150L), starts("41424344{100-200}45464748", new String(d)));
    }

    private static void put(char[] d, int at, String s) {
        s.getChars(0, s.length(), d, at);
    }
}
