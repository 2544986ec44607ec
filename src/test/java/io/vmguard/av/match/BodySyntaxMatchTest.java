package io.vmguard.av.match;

import static io.vmguard.av.match.Scans.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Every element of ClamAV's body syntax, matching and not matching. Data is ASCII; 'x' fills gaps. */
class BodySyntaxMatchTest {
    @Test
    void literalBytesMatchEachOccurrence() {
        assertEquals(List.of(2L, 6L), starts("616263", "xxabcxabc"));
        assertEquals(List.of(), starts("616263", "abxab"));
        assertEquals(List.of(0L, 1L, 2L), starts("6161", "aaaa"), "overlapping occurrences each count");
    }

    @Test
    void matchEndIsExclusive() {
        List<long[]> m = matches("616263", ascii("xabc"));
        assertEquals(1, m.size());
        assertArrayEquals(new long[] {1, 4}, m.get(0));
    }

    @Test
    void anyByte() {
        assertTrue(found("6162??6364", "abZcd"));
        assertTrue(found("6162??6364", "ab\u0000cd"));
        assertFalse(found("6162??6364", "abcd"));
        assertFalse(found("6162??6364", "abZZcd"));
    }

    @Test
    void highAndLowNibbles() {
        assertTrue(found("61626?", "abo"));    // 6f
        assertTrue(found("61626?", "ab`"));    // 60
        assertFalse(found("61626?", "abO"));   // 4f
        assertTrue(found("6162?1", "ab1"));    // 31
        assertTrue(found("6162?1", "abA"));    // 41
        assertFalse(found("6162?1", "abB"));
    }

    @Test
    void exactGap() {
        assertTrue(found("6162{3}6364", gapped("ab", 3, "cd")));
        assertFalse(found("6162{3}6364", gapped("ab", 2, "cd")));
        assertFalse(found("6162{3}6364", gapped("ab", 4, "cd")));
        // n >= 128 splits the signature into parts, same meaning
        assertTrue(found("6162{200}6364", gapped("ab", 200, "cd")));
        assertFalse(found("6162{200}6364", gapped("ab", 199, "cd")));
        assertFalse(found("6162{200}6364", gapped("ab", 201, "cd")));
    }

    @Test
    void rangedGapBoundsAreInclusive() {
        String sig = "6162{4-9}6364";
        assertFalse(found(sig, gapped("ab", 3, "cd")));
        assertTrue(found(sig, gapped("ab", 4, "cd")));
        assertTrue(found(sig, gapped("ab", 9, "cd")));
        assertFalse(found(sig, gapped("ab", 10, "cd")));
    }

    @Test
    void upToGap() {
        String sig = "6162{-6}6364";
        assertTrue(found(sig, gapped("ab", 0, "cd")));
        assertTrue(found(sig, gapped("ab", 6, "cd")));
        assertFalse(found(sig, gapped("ab", 7, "cd")));
    }

    @Test
    void atLeastGap() {
        String sig = "6162{5-}6364";
        assertFalse(found(sig, gapped("ab", 4, "cd")));
        assertTrue(found(sig, gapped("ab", 5, "cd")));
        assertTrue(found(sig, gapped("ab", 5000, "cd")));
    }

    @Test
    void starIsForwardOnlyAndUnbounded() {
        assertTrue(found("6162*6364", "abcd"));
        assertTrue(found("6162*6364", gapped("ab", 300_000, "cd")));
        assertFalse(found("6162*6364", "cdxxab"));
        assertEquals(List.of(0L, 3L), starts("6162*6364", "abxabxcd"), "every start that has a later part counts");
    }

    @Test
    void bracketAfterFirstByte() {
        String sig = "61[2-3]626364";
        assertFalse(found(sig, "axbcd"));
        assertTrue(found(sig, "axxbcd"));
        assertTrue(found(sig, "axxxbcd"));
        assertFalse(found(sig, "axxxxbcd"));
        // As in ClamAV (checked with clamscan 1.4.6: offset 3 matches "axxbcd", offset 0 does not), the match
        // starts after the bracket: the lone byte is a condition on what precedes it.
        assertEquals(List.of(4L), starts(sig, "xaxxbcd"));
        assertArrayEquals(new long[] {4, 7}, matches(sig, ascii("xaxxbcd")).get(0));
    }

    @Test
    void gapsAndEdgesReferToThePartInsideItsBrackets() {
        // clamscan 1.4.6: 6162{200}61[1-1]626364 finds ab + 198 bytes + "a.bcd", not ab + 200 bytes + "a.bcd"
        String sig = "6162{200}61[1-1]626364";
        assertTrue(found(sig, "ab" + "x".repeat(198) + "a.bcd"));
        assertFalse(found(sig, "ab" + "x".repeat(200) + "a.bcd"));
        // clamscan 1.4.6: 61[2-2](B)626364 finds "ax bcd": (B) tests the byte before "bcd"
        assertTrue(found("61[2-2](B)626364", "ax bcd"));
        assertFalse(found("61[2-2](B)626364", "axxbcd"));
    }

    @Test
    void markersAtTheEdgesOfEveryPartAreEdgeTests() {
        // clamscan 1.4.6: 6162*(B)6364 finds "ab xx cd", not "ab xxcd"; 6162(B)*6364 finds "ab xxcd"
        assertTrue(found("6162*(B)6364", "ab xx cd"));
        assertFalse(found("6162*(B)6364", "ab xxcd"));
        assertTrue(found("6162(B)*6364", "ab xxcd"));
        assertFalse(found("6162(B)*6364", "abxxxcd"));
        assertEquals(List.of(0L), starts("6162(B)*6364", "ab xxcd"), "zero-width: the match is still ab...cd");
    }

    @Test
    void bracketBeforeLastByte() {
        String sig = "616263[1-2]64";
        assertFalse(found(sig, "abcd"));
        assertTrue(found(sig, "abcxd"));
        assertTrue(found(sig, "abcxxd"));
        assertFalse(found(sig, "abcxxxd"));
        assertTrue(found("6161616162[32-32]63", gapped("aaaab", 32, "c")));
    }

    @Test
    void singleByteAlternatives() {
        assertTrue(found("6162(63|64)65", "abce"));
        assertTrue(found("6162(63|64)65", "abde"));
        assertFalse(found("6162(63|64)65", "abee"));
    }

    @Test
    void fixedLengthMultiByteAlternatives() {
        String sig = "6162(6364|6566)6768";
        assertTrue(found(sig, "abcdgh"));
        assertTrue(found(sig, "abefgh"));
        assertFalse(found(sig, "abcfgh"));
        assertFalse(found(sig, "abedgh"));
    }

    @Test
    void genericAlternativesOfDifferentLengths() {
        String sig = "6161(62|6363|64??65|6?66{2}67)6161";
        assertTrue(found(sig, "aabaa"));
        assertTrue(found(sig, "aaccaa"));
        assertTrue(found(sig, "aadZeaa"));
        assertTrue(found(sig, "aakfZZgaa"));
        assertFalse(found(sig, "aacaa"));
        assertFalse(found(sig, "aadeaa"));
        assertFalse(found(sig, "aaKfZZgaa"));
        assertFalse(found(sig, "aaaa"));
    }

    @Test
    void nestedAlternatives() {
        String sig = "6161(6a6a|66(6767|6868)66|6969)6161";
        assertTrue(found(sig, "aafggfaa"));
        assertTrue(found(sig, "aafhhfaa"));
        assertFalse(found(sig, "aafghfaa"));
        assertFalse(found(sig, "aaffaa"));
    }

    @Test
    void alternativeEndIsTheShortest() {
        List<long[]> m = matches("6161(62|6262)", ascii("aabb"));
        assertEquals(1, m.size());
        assertArrayEquals(new long[] {0, 3}, m.get(0));
    }

    @Test
    void negatedSingleBytes() {
        String sig = "6162!(63|64)6566";
        assertTrue(found(sig, "abzef"));
        assertFalse(found(sig, "abcef"));
        assertFalse(found(sig, "abdef"));
    }

    @Test
    void negatedStrings() {
        String sig = "6162!(0102|0304)6364";
        assertFalse(found(sig, "ab\u0001\u0002cd"));
        assertFalse(found(sig, "ab\u0003\u0004cd"));
        assertTrue(found(sig, "ab\u0001\u0004cd"));
        assertTrue(found(sig, "ab\u0003\u0002cd"));
        assertFalse(found(sig, "ab\u0001cd"), "the negated part still takes its length");
    }

    @Test
    void wordBoundaryAtTheStart() {
        // ClamAV's boundary table: before a word may stand space - . / _ < @ (or the file start)
        assertTrue(found("(B)61626364", "abcd"));
        assertTrue(found("(B)61626364", " abcd"));
        assertTrue(found("(B)61626364", ".abcd"));
        assertFalse(found("(B)61626364", "xabcd"));
        assertFalse(found("(B)61626364", "=abcd"), "'=' only ends a word in ClamAV's table");
    }

    @Test
    void wordBoundaryAtTheEnd() {
        assertTrue(found("61626364(B)", "abcd"));
        assertTrue(found("61626364(B)", "abcd\n"));
        assertTrue(found("61626364(B)", "abcd="));
        assertFalse(found("61626364(B)", "abcdx"));
        assertFalse(found("61626364(B)", "abcd."), "'.' only starts a word in ClamAV's table");
    }

    @Test
    void lineMarkerAtBothEnds() {
        assertTrue(found("(L)61626364", "abcd"));
        assertTrue(found("(L)61626364", "x\nabcd"));
        assertFalse(found("(L)61626364", "x abcd"));
        assertTrue(found("61626364(L)", "abcd"));
        assertTrue(found("61626364(L)", "abcd\nx"));
        assertTrue(found("61626364(L)", "abcd\r\nx"));
        assertFalse(found("61626364(L)", "abcd\rx"));
        assertFalse(found("61626364(L)", "abcdx"));
    }

    @Test
    void nonAlphanumericMarkerAtBothEnds() {
        assertTrue(found("(W)61626364", "abcd"));
        assertTrue(found("(W)61626364", "&abcd"));
        assertFalse(found("(W)61626364", "9abcd"));
        assertTrue(found("61626364(W)", "abcd"));
        assertTrue(found("61626364(W)", "abcd\u0000"));
        assertFalse(found("61626364(W)", "abcdZ"));
    }

    @Test
    void markersInTheMiddleConsumeBytes() {
        assertTrue(found("6162(W)6364", "ab-cd"));
        assertFalse(found("6162(W)6364", "abzcd"));
        assertFalse(found("6162(W)6364", "abcd"));
        assertTrue(found("6162(L)6364", "ab\ncd"));
        assertTrue(found("6162(L)6364", "ab\r\ncd"));
        assertFalse(found("6162(L)6364", "ab\rcd"));
        assertTrue(found("6162(B)6364", "ab cd"));
        assertFalse(found("6162(B)6364", "abxcd"));
    }

    @Test
    void negatedEdgeMarkers() {
        assertTrue(found("6162!(W)", "abz"));
        assertFalse(found("6162!(W)", "ab-"));
    }
}
