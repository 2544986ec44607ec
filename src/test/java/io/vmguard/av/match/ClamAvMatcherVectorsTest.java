package io.vmguard.av.match;

import static io.vmguard.av.match.Scans.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The cases of ClamAV's own matcher tests ({@code unit_tests/check_matchers.c}: {@code ac_testdata} and
 * {@code ac_sigopts_testdata}), restated: same data, same signatures, same expected verdicts.
 */
class ClamAvMatcherVectorsTest {
    private record Case(String data, String sig, String name) {}

    private static final String FILTER_BUG_DATA = "\1".repeat(23) + "d".repeat(20) + "5" + "\1".repeat(13);

    private static final List<Case> AC = List.of(
            new Case("daaaaaaaaddbbbbbcce", "64[4-4]61616161{2}6262[3-6]65", "Test_1"),
            new Case("ebbbbbbbbeecccccddf", "6262(6162|6364|6265|6465){2}6363", "Test_2"),
            new Case("aaaabbbbcccccdddddeeee", "616161*63636363*6565", "Test_3"),
            new Case("oprstuwxy", "6f??727374????7879", "Test_4"),
            new Case("abdcabcddabccadbbdbacb", "6463{2-3}64646162(63|64|65)6361*6462????6261{-1}6362", "Test_5"),
            new Case("abcdefghijkabcdefghijk", "62????65666768*696a6b6162{2-3}656667[1-3]6b", "Test_6"),
            new Case("abcadbabcadbabcacb", "6?6164?26?62{3}?26162?361", "Test_7"),
            new Case(FILTER_BUG_DATA, "6464646464646464646464646464646464646464(35|36)", "Test_8"),
            new Case("aabaa", "6161(62|63|64)6161", "Altstr_1"),
            new Case("aacaa", "6161(62|63|64)6161", "Altstr_1"),
            new Case("aadaa", "6161(62|63|64)6161", "Altstr_1"),
            new Case("aabbbaa", "6161(626262|636363|646464)6161", "Altstr_2"),
            new Case("aacccaa", "6161(626262|636363|646464)6161", "Altstr_2"),
            new Case("aadddaa", "6161(626262|636363|646464)6161", "Altstr_2"),
            new Case("aabbaa", "6161(6262|63636363|6464646464)6161", "Altstr_3"),
            new Case("aaccccaa", "6161(6262|63636363|6464646464)6161", "Altstr_3"),
            new Case("aadddddaa", "6161(6262|63636363|6464646464)6161", "Altstr_3"),
            new Case("aajjaa", "6161(6a6a|66(6767|6868)66|6969)6161", "Altstr_4"),
            new Case("aafggfaa", "6161(6a6a|66(6767|6868)66|6969)6161", "Altstr_4"),
            new Case("aafhhfaa", "6161(6a6a|66(6767|6868)66|6969)6161", "Altstr_4"),
            new Case("aaiiaa", "6161(6a6a|66(6767|6868)66|6969)6161", "Altstr_4"));

    @Test
    void eachSignatureMatchesItsOwnDataAndNoOther() throws Exception {
        // All signatures in one matcher, as ClamAV's test adds them to one root.
        Map<String, Integer> ids = new LinkedHashMap<>();
        MultiMatcher.Builder b = MultiMatcher.builder();
        for (Case c : AC) {
            if (!ids.containsKey(c.sig())) ids.put(c.sig(), b.add(BodyPattern.parse(c.sig()), OffsetRule.ANY, PatternOptions.NONE));
        }
        MultiMatcher m = b.build();
        for (Case c : AC) {
            byte[] data = ascii(c.data());
            int want = ids.get(c.sig());
            java.util.Set<Integer> who = new java.util.HashSet<>();
            m.scan(java.lang.foreign.MemorySegment.ofArray(data), FileLayout.raw(data.length), (id, s, e) -> who.add(id));
            assertEquals(java.util.Set.of(want), who, c.name() + " on " + c.data());
        }
    }

    private record OptCase(String data, String sig, PatternOptions o, boolean virus, String name) {}

    private static PatternOptions opts(String letters) {
        try {
            return PatternOptions.parse(letters);
        } catch (PatternSyntaxException e) {
            throw new AssertionError(e);
        }
    }

    private static final List<OptCase> SIGOPTS = List.of(
            new OptCase("aaaaa", "6161616161", opts(""), true, "Sigopts_1"),
            new OptCase("bBbBb", "6262626262", opts(""), false, "Sigopts_2"),
            new OptCase("cCcCc", "6363636363", opts("i"), true, "Sigopts_3"),
            new OptCase("ddddd&e", "6464646464", opts("f"), true, "Sigopts_4"),
            new OptCase("s&eeeee&e", "6565656565", opts("f"), true, "Sigopts_5"),
            new OptCase("s&fffff", "6666666666", opts("f"), true, "Sigopts_6"),
            new OptCase("sggggg", "6767676767", opts("f"), false, "Sigopts_7"),
            new OptCase("hhhhhe", "6868686868", opts("f"), false, "Sigopts_8"),
            new OptCase("iiiii", "(W)6969696969", opts(""), true, "Sigopts_9"),
            new OptCase("jjj&jj", "6a6a6a(W)6a6a", opts(""), true, "Sigopts_10"),
            new OptCase("kkkkk", "6b6b6b6b6b(W)", opts(""), true, "Sigopts_11"),
            new OptCase("slllll", "(W)6c6c6c6c6c", opts(""), false, "Sigopts_12"),
            new OptCase("mmmmme", "6d6d6d6d6d(W)", opts(""), false, "Sigopts_13"),
            new OptCase("nNnNn", "6e6e6e6e6e", opts("if"), true, "Sigopts_14"),
            new OptCase("soOoOo", "6f6f6f6f6f", opts("if"), false, "Sigopts_15"),
            new OptCase("pPpPpe", "7070707070", opts("if"), false, "Sigopts_16"),
            new OptCase("q\0q\0q\0q\0q\0", "7171717171", opts("w"), true, "Sigopts_17"),
            new OptCase("r\0R\0r\0R\0r\0", "7272727272", opts("wi"), true, "Sigopts_18"),
            new OptCase("s\0s\0s\0s\0s\0", "7373737373", opts("wf"), true, "Sigopts_19"),
            new OptCase("t\0t\0t\0t\0t\0", "7474747474", opts("wa"), true, "Sigopts_20"),
            new OptCase("u\0u\0u\0u\0u\0", "7575757575", opts("wif"), true, "Sigopts_21"),
            new OptCase("v\0v\0v\0v\0v\0", "7676767676", opts("wia"), true, "Sigopts_22"),
            new OptCase("w\0w\0w\0w\0w\0", "7777777777", opts("wfa"), true, "Sigopts_23"),
            new OptCase("x\0x\0x\0x\0x\0", "7878787878", opts("wifa"), true, "Sigopts_24"));

    @Test
    void signatureOptionsGiveClamAvsVerdicts() {
        for (OptCase c : SIGOPTS) {
            assertEquals(c.virus(), found(c.sig(), c.o(), ascii(c.data())), c.name() + " " + c.sig() + " on " + c.data().replace("\0", "\\0"));
        }
    }

    @Test
    void wideAsciiAlsoFindsThePlainForm() {
        assertTrue(found("7474747474", opts("wa"), ascii("ttttt")));
        assertFalse(found("7474747474", opts("w"), ascii("ttttt")));
        assertFalse(found("7474747474", opts(""), ascii("t\0t\0t\0t\0t\0")));
    }

    @Test
    void wideFullwordLooksAtWideNeighbours() {
        assertFalse(found("7373", opts("wf"), ascii("a\0s\0s\0")), "a wide letter before");
        assertTrue(found("7373", opts("wf"), ascii("-\0s\0s\0")));
        assertFalse(found("7373", opts("wf"), ascii("s\0s\0b\0")), "a wide letter after");
        assertTrue(found("7373", opts("wf"), ascii("s\0s\0.\0")));
    }

    @Test
    void bmStyleLiteralsFindOnlyThePresentOne() throws Exception {
        MultiMatcher.Builder b = MultiMatcher.builder();
        b.add(BodyPattern.parse("deadbabe"), OffsetRule.ANY, PatternOptions.NONE);
        int sig2 = b.add(BodyPattern.parse("deadbeef"), OffsetRule.ANY, PatternOptions.NONE);
        b.add(BodyPattern.parse("babedead"), OffsetRule.ANY, PatternOptions.NONE);
        byte[] data = {'b', 'l', 'a', 'h', (byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef};
        java.util.List<Integer> who = new java.util.ArrayList<>();
        b.build().scan(java.lang.foreign.MemorySegment.ofArray(data), FileLayout.raw(data.length), (id, s, e) -> who.add(id));
        assertEquals(List.of(sig2), who);
    }
}
