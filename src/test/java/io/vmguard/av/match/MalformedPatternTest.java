package io.vmguard.av.match;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What ClamAV's loader rejects is rejected, with a one-line message. */
class MalformedPatternTest {
    @ParameterizedTest
    @ValueSource(strings = {
        "",                    // empty
        "6",                   // odd digits
        "616",                 // odd digits
        "61gg",                // bad hex
        "6162zz",              // bad character
        "61",                  // shorter than 2 bytes
        "6162*63",             // a part shorter than 2 bytes
        "63*6162",             // a first part shorter than 2 bytes
        "61??62??",            // no static 2-byte run
        "6?6?6?",              // nibbles are not static
        "(61|62)(63|64)",      // alternatives are not static
        "6162(6364*6566)",     // * inside ()
        "6162(63{2-3}64|65)",  // ranged gap inside ()
        "6162(6364",           // unclosed (
        "61626364)",           // stray )
        "6162()6364",          // empty group
        "6162(63|)6364",       // empty alternative
        "6162!(63|6465)6667",  // negation of different lengths
        "6162!(63(64|65))6667", // negation of nested alternatives
        "61[1-33]626364",      // bracket above 32
        "61[3-2]626364",       // bracket min above max
        "61[1-]626364",        // open bracket
        "6162[1-2]6364",       // bracket not next to a single first/last byte
        "6162{1-x}6364",       // bad gap
        "6162{}6364",          // empty gap
        "6162{-}6364",         // no bound
        "6162{5-2}6364",       // min above max
        "6162{3",              // unclosed {
        "(B)",                 // nothing but a marker
        "6162!6364",           // ! without (
        "(B)61[2-2]626364",    // clamscan 1.4.6: Malformed (the bracket is no longer after the first byte)
        "6162[1-2]",           // a bracket with no byte after it
    })
    void rejected(String sig) {
        PatternSyntaxException e = assertThrows(PatternSyntaxException.class, () -> BodyPattern.parse(sig), sig);
        assertNotNull(e.getMessage());
        assertFalse(e.getMessage().isBlank());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void nestingDeeperThanFifteenIsRejected() throws Exception {
        String ok = "6161" + "(6262|".repeat(15) + "6363" + ")".repeat(15);
        BodyPattern.parse(ok);
        String deep = "6161" + "(6262|".repeat(16) + "6363" + ")".repeat(16);
        assertThrows(PatternSyntaxException.class, () -> BodyPattern.parse(deep));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "6162", "DEADBEEF", "????6162", "6162????", "61[32-32]626364", "616263[0-1]64", "61[1-2]6263[3-4]64",
        "6162{0}6364", "6162{128}6364", "6162{-0}6364", "6162*6364*6566", "(B)6162(L)", "!(W)6162",
        "6162!(63|64)", "6162!(6364|6566)", "6162(63|64|65)", "6162(6364|65??66|6?)", "6162(B)6364",
    })
    void accepted(String sig) throws Exception {
        BodyPattern p = BodyPattern.parse(sig);
        assertEquals(sig, p.source());
    }

    @Test
    void lengthsCountGapsAndAlternatives() throws Exception {
        BodyPattern p = BodyPattern.parse("6162{2-5}6364(65|6666)");
        assertEquals(7, p.minLength());
        assertEquals(11, p.maxLength().orElseThrow());
        assertTrue(BodyPattern.parse("6162*6364").maxLength().isEmpty());
        assertTrue(BodyPattern.parse("6162{3-}6364").maxLength().isEmpty());
        assertEquals(7, BodyPattern.parse("6162{3-}6364").minLength());
    }

    @Test
    void optionsThatBreakAPatternAreReported() throws Exception {
        // fullword turns [x-y] into {x-y}, which leaves a one-byte first part (ClamAV fails the same way)
        BodyPattern p = BodyPattern.parse("61[1-2]626364");
        assertThrows(PatternSyntaxException.class, () -> p.checkOptions(new PatternOptions(false, false, true, false)));
        assertThrows(IllegalArgumentException.class,
                () -> MultiMatcher.builder().add(p, OffsetRule.ANY, new PatternOptions(false, false, true, false)));
        p.checkOptions(PatternOptions.NONE);
    }

    @Test
    void badModifierLetterIsRejected() {
        assertThrows(PatternSyntaxException.class, () -> PatternOptions.parse("iz"));
    }
}
