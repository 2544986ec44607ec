package io.vmguard.av.match;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Test helpers: scan data with one or a few patterns and collect what is reported. */
final class Scans {
    private Scans() {}

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static MultiMatcher one(String sig, OffsetRule rule, PatternOptions o) {
        try {
            MultiMatcher.Builder b = MultiMatcher.builder();
            b.add(BodyPattern.parse(sig), rule, o);
            return b.build();
        } catch (PatternSyntaxException e) {
            throw new AssertionError(sig + ": " + e.getMessage());
        }
    }

    /** Every reported (start, end) of one pattern with offset * and no options. */
    static List<long[]> matches(String sig, byte[] data) {
        return matches(one(sig, OffsetRule.ANY, PatternOptions.NONE), data, FileLayout.raw(data.length));
    }

    static List<long[]> matches(MultiMatcher m, byte[] data, FileLayout layout) {
        List<long[]> out = new ArrayList<>();
        m.scan(MemorySegment.ofArray(data), layout, (id, s, e) -> out.add(new long[] {s, e}));
        return out;
    }

    static List<Long> starts(String sig, byte[] data) {
        return matches(sig, data).stream().map(x -> x[0]).sorted().toList();
    }

    static List<Long> starts(String sig, String data) {
        return starts(sig, ascii(data));
    }

    static boolean found(String sig, String data) {
        return !starts(sig, data).isEmpty();
    }

    static boolean found(String sig, PatternOptions o, byte[] data) {
        return !matches(one(sig, OffsetRule.ANY, o), data, FileLayout.raw(data.length)).isEmpty();
    }

    static String gapped(String a, int gap, String b) {
        return a + "x".repeat(gap) + b;
    }
}
