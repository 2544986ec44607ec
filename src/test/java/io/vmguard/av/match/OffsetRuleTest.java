package io.vmguard.av.match;

import static io.vmguard.av.match.Scans.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** ClamAV's offset field: parsing, resolution against a FileLayout, and its effect on where matches start. */
class OffsetRuleTest {
    private static final FileLayout ELF = new FileLayout(1000, 300,
            List.of(new FileLayout.Section(0, 0), new FileLayout.Section(64, 100), new FileLayout.Section(400, 200)));

    @Test
    void parsesEveryForm() throws Exception {
        assertEquals(new OffsetRule.Any(), OffsetRule.parse("*"));
        assertEquals(new OffsetRule.Absolute(10, 0), OffsetRule.parse("10"));
        assertEquals(new OffsetRule.Absolute(10, 5), OffsetRule.parse("10,5"));
        assertEquals(new OffsetRule.FromEnd(8, 0), OffsetRule.parse("EOF-8"));
        assertEquals(new OffsetRule.FromEnd(8, 2), OffsetRule.parse("EOF-8,2"));
        assertEquals(new OffsetRule.EntryPoint(16, 0), OffsetRule.parse("EP+16"));
        assertEquals(new OffsetRule.EntryPoint(-16, 4), OffsetRule.parse("EP-16,4"));
        assertEquals(new OffsetRule.EntryPoint(0, 134217728), OffsetRule.parse("EP+0,134217728"));
        assertEquals(new OffsetRule.SectionStart(2, 4, 0), OffsetRule.parse("S2+4"));
        assertEquals(new OffsetRule.SectionStart(1, 0, 9), OffsetRule.parse("S1+0,9"));
        assertEquals(new OffsetRule.InSection(1), OffsetRule.parse("SE1"));
        assertEquals(new OffsetRule.LastSectionStart(0, 0), OffsetRule.parse("SL+0"));
        assertEquals(new OffsetRule.LastSectionStart(3, 7), OffsetRule.parse("SL+3,7"));
    }

    @Test
    void rejectsMalformedOffsets() {
        for (String bad : new String[] {"", "x", "-1", "10,", ",5", "EOF+3", "EOF-", "EP*3", "EP+", "S+3", "Sx+1", "S1", "SE", "SE1,3", "SL-1", "VI", "$1$", "10,5,6"}) {
            PatternSyntaxException e = assertThrows(PatternSyntaxException.class, () -> OffsetRule.parse(bad), bad);
            assertFalse(e.getMessage().contains("\n"));
        }
    }

    @Test
    void executableFormsSayTheyNeedALayout() throws Exception {
        assertFalse(OffsetRule.parse("*").needsExecutableLayout());
        assertFalse(OffsetRule.parse("10,3").needsExecutableLayout());
        assertFalse(OffsetRule.parse("EOF-3").needsExecutableLayout());
        for (String s : new String[] {"EP+1", "S1+0", "SE1", "SL+0"}) assertTrue(OffsetRule.parse(s).needsExecutableLayout(), s);
    }

    @Test
    void resolvesAgainstTheLayout() throws Exception {
        assertEquals(new OffsetRule.Window(10, 15), OffsetRule.parse("10,5").window(ELF));
        assertEquals(new OffsetRule.Window(992, 992), OffsetRule.parse("EOF-8").window(ELF));
        assertEquals(new OffsetRule.Window(284, 288), OffsetRule.parse("EP-16,4").window(ELF));
        assertEquals(new OffsetRule.Window(404, 404), OffsetRule.parse("S2+4").window(ELF));
        assertEquals(new OffsetRule.Window(64, 164), OffsetRule.parse("SE1").window(ELF));
        assertEquals(new OffsetRule.Window(401, 401), OffsetRule.parse("SL+1").window(ELF));
        assertNull(OffsetRule.parse("S3+0").window(ELF), "no section 3");
        assertNull(OffsetRule.parse("EP+0").window(FileLayout.raw(1000)), "no entry point");
        assertNull(OffsetRule.parse("SL+0").window(FileLayout.raw(1000)), "no sections");
        assertNull(OffsetRule.parse("EOF-2000").window(ELF), "before the file");
        assertNull(OffsetRule.parse("EP-400").window(ELF), "before the file");
        assertNull(OffsetRule.parse("1000").window(ELF), "after the file");
    }

    /** A 1000-byte file of 'x' with "abcd" written at each of the given offsets. */
    private static byte[] fileWith(int... at) {
        byte[] d = ascii("x".repeat(1000));
        for (int a : at) System.arraycopy(ascii("abcd"), 0, d, a, 4);
        return d;
    }

    private static List<Long> starts(String rule, String sig, FileLayout layout, byte[] data) throws Exception {
        MultiMatcher m = one(sig, OffsetRule.parse(rule), PatternOptions.NONE);
        return matches(m, data, layout).stream().map(x -> x[0]).sorted().toList();
    }

    @Test
    void rulesRestrictWhereAMatchMayStart() throws Exception {
        byte[] d = fileWith(10, 15, 20, 284, 288, 292, 404, 500, 996);
        assertEquals(List.of(10L, 15L), starts("10,5", "61626364", ELF, d));
        assertEquals(List.of(10L), starts("10", "61626364", ELF, d));
        assertEquals(List.of(996L), starts("EOF-4", "61626364", ELF, d));
        assertEquals(List.of(), starts("EOF-5", "61626364", ELF, d));
        assertEquals(List.of(284L, 288L), starts("EP-16,4", "61626364", ELF, d));
        assertEquals(List.of(404L), starts("S2+4", "61626364", ELF, d));
        assertEquals(List.of(404L, 500L), starts("SE2", "61626364", ELF, d));
        assertEquals(List.of(), starts("SE1", "61626364", ELF, d));
        assertEquals(List.of(), starts("EP+0", "61626364", FileLayout.raw(1000), d));
        // wide windows go through the prefilter, narrow ones are verified in place: same answers
        assertEquals(List.of(284L, 288L, 292L, 404L, 500L), starts("EP-16,300", "61626364", ELF, d));
        assertEquals(List.of(15L, 20L, 284L), starts("15,269", "61626364", ELF, d));
    }

    @Test
    void theRuleConstrainsTheStartOfTheWholeMatchNotOfItsAnchor() throws Exception {
        byte[] d = fileWith(20);
        // the anchor (61626364) is 3 bytes into the match; the match starts at 17
        assertEquals(List.of(17L), starts("17", "????786162636478", ELF, d));
        assertEquals(List.of(), starts("20", "????786162636478", ELF, d));
        assertEquals(List.of(17L), starts("10,7", "????786162636478", ELF, d));
        assertEquals(List.of(17L), starts("10,200", "????786162636478", ELF, d));
    }

    @Test
    void multiPartPatternsAnchorTheFirstPart() throws Exception {
        byte[] d = fileWith(10, 600);
        assertEquals(List.of(10L), starts("10", "61626364*61626364", ELF, d));
        assertEquals(List.of(), starts("600", "61626364*61626364", ELF, d));
    }
}
