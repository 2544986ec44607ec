package io.vmguard.av.match;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * MultiMatcher against {@link ReferenceMatcher} on random patterns of every syntax kind, random options and
 * offset rules, over random data from a small alphabet with instances of the patterns planted in it.
 */
class MultiMatcherPropertyTest {
    private static final String[] LIT = {"61", "62", "63", "41", "20", "0a", "00", "2d"};
    private static final byte[] ALPHABET = {'a', 'b', 'c', 'A', ' ', '\n', '\r', 0, '-', 'x'};

    /** Matches the reference found (all, and of multi-part patterns): the test must exercise matching. */
    private static final long[] FOUND = new long[2];

    private record Sig(BodyPattern pattern, OffsetRule rule, PatternOptions options) {}

    @Test
    void agreesWithTheReferenceOnRandomPatternsAndData() throws Exception {
        int compared = 0;
        for (int trial = 0; trial < 400; trial++) {
            long seed = 0x5eed0000L + trial;
            compared += trial(new Random(seed), seed);
        }
        assertTrue(FOUND[0] > 1000 && FOUND[1] > 100, "too few matches to mean much: " + FOUND[0] + ", multi-part " + FOUND[1]);
        assertTrue(compared > 2000, "too few (pattern, data) comparisons: " + compared);
    }

    private int trial(Random r, long seed) throws Exception {
        List<Sig> sigs = new ArrayList<>();
        while (sigs.size() < 20) {
            try {
                BodyPattern p = BodyPattern.parse(randomPattern(r));
                PatternOptions o = new PatternOptions(r.nextInt(8) == 0, r.nextInt(8) == 0, r.nextInt(8) == 0, r.nextInt(3) == 0);
                p.checkOptions(o);
                OffsetRule rule = switch (r.nextInt(10)) {
                    case 0 -> new OffsetRule.Absolute(r.nextInt(60), r.nextInt(3) == 0 ? r.nextInt(200) : r.nextInt(5));
                    case 1 -> new OffsetRule.FromEnd(r.nextInt(100), r.nextInt(80));
                    default -> OffsetRule.ANY;
                };
                sigs.add(new Sig(p, rule, o));
            } catch (PatternSyntaxException e) {
                // the generator may write what ClamAV rejects; skip it
            }
        }
        MultiMatcher.Builder b = MultiMatcher.builder();
        for (Sig s : sigs) b.add(s.pattern(), s.rule(), s.options());
        MultiMatcher m = b.build();

        byte[] data = randomData(r, sigs);
        FileLayout layout = FileLayout.raw(data.length);
        Map<Integer, TreeMap<Long, Long>> got = new HashMap<>();
        m.scan(MemorySegment.ofArray(data), layout, (id, s, e) -> {
            Long old = got.computeIfAbsent(id, k -> new TreeMap<>()).put(s, e);
            assertNull(old, "seed " + seed + ": start " + s + " of pattern " + id + " reported twice");
            return true;
        });
        ReferenceMatcher ref = new ReferenceMatcher(data);
        for (int id = 0; id < sigs.size(); id++) {
            Sig s = sigs.get(id);
            TreeMap<Long, Long> want = new TreeMap<>();
            OffsetRule.Window w = s.rule().window(layout);
            if (w != null) {
                PatternOptions o = s.options();
                List<Parser.Parsed> variants = new ArrayList<>();
                if (o.wide()) variants.add(s.pattern().variant(o.nocase(), true, o.fullword()));
                if (!o.wide() || o.ascii()) variants.add(s.pattern().variant(o.nocase(), false, o.fullword()));
                for (Parser.Parsed v : variants) ref.all(v, w.first(), w.last()).forEach((k, e) -> want.merge(k, e, Math::min));
            }
            TreeMap<Long, Long> have = got.getOrDefault(id, new TreeMap<>());
            FOUND[0] += want.size();
            if (s.pattern().parts() > 1 && !want.isEmpty()) FOUND[1]++;
            String what = "seed " + seed + " pattern " + s.pattern().source() + " " + s.options() + " " + s.rule() + " data " + hex(data);
            assertEquals(want.keySet(), have.keySet(), "starts: " + what);
            if (!(s.options().wide() && s.options().ascii())) {   // two variants: either's end may be reported
                assertEquals(want, have, "ends: " + what);
            }
        }
        return sigs.size();
    }

    private static String hex(byte[] d) {
        StringBuilder sb = new StringBuilder();
        for (byte x : d) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    static String lit(Random r) {
        return LIT[r.nextInt(LIT.length)];
    }

    static String randomPattern(Random r) {
        StringBuilder sb = new StringBuilder();
        if (r.nextInt(10) == 0) sb.append(new String[] {"(B)", "(L)", "(W)", "!(W)"}[r.nextInt(4)]);
        int parts = 1 + r.nextInt(3);
        for (int i = 0; i < parts; i++) {
            if (i > 0) {
                sb.append(switch (r.nextInt(6)) {
                    case 0 -> "*";
                    case 1 -> "{" + r.nextInt(6) + "}";
                    case 2 -> "{-" + r.nextInt(8) + "}";
                    case 3 -> "{" + r.nextInt(6) + "-}";
                    case 4 -> {
                        int lo = r.nextInt(6);
                        yield "{" + lo + "-" + (lo + r.nextInt(8)) + "}";
                    }
                    default -> "{" + (128 + r.nextInt(3)) + "}";
                });
            }
            sb.append(part(r));
        }
        if (r.nextInt(10) == 0) sb.append(new String[] {"(B)", "(L)", "(W)", "!(L)"}[r.nextInt(4)]);
        return sb.toString();
    }

    private static String part(Random r) {
        StringBuilder sb = new StringBuilder();
        if (r.nextInt(7) == 0) {
            int lo = r.nextInt(4);
            sb.append(lit(r)).append('[').append(lo).append('-').append(lo + r.nextInt(4)).append(']');
        }
        if (r.nextInt(10) == 0) sb.append(new String[] {"(B)", "(L)", "(W)", "!(B)"}[r.nextInt(4)]);
        int n = r.nextInt(5);
        int staticAt = r.nextInt(n + 1);
        for (int i = 0; i <= n; i++) {
            if (i == staticAt) sb.append(lit(r)).append(lit(r));
            if (i < n) sb.append(element(r));
        }
        if (r.nextInt(10) == 0) sb.append(new String[] {"(B)", "(L)", "(W)", "!(W)"}[r.nextInt(4)]);
        if (r.nextInt(7) == 0) {
            int lo = r.nextInt(4);
            sb.append('[').append(lo).append('-').append(lo + r.nextInt(4)).append(']').append(lit(r));
        }
        return sb.toString();
    }

    private static String element(Random r) {
        return switch (r.nextInt(14)) {
            case 0 -> "??";
            case 1 -> "6?";
            case 2 -> "?1";
            case 3 -> "(" + lit(r) + "|" + lit(r) + ")";
            case 4 -> "(" + lit(r) + lit(r) + "|" + lit(r) + lit(r) + ")";
            case 5 -> "(" + lit(r) + "|" + lit(r) + lit(r) + "|" + lit(r) + "??" + ")";
            case 6 -> "(" + lit(r) + "(" + lit(r) + "|" + lit(r) + lit(r) + ")|2020)";
            case 7 -> "!(" + lit(r) + "|" + lit(r) + ")";
            case 8 -> "!(" + lit(r) + lit(r) + "|" + lit(r) + lit(r) + ")";
            case 9 -> "{" + (1 + r.nextInt(3)) + "}";
            case 10 -> new String[] {"(B)", "(L)", "(W)", "!(L)"}[r.nextInt(4)];
            case 11 -> "(6?|" + lit(r) + "{2}" + lit(r) + ")";
            default -> lit(r);
        };
    }

    private static byte[] randomData(Random r, List<Sig> sigs) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int pieces = 1 + r.nextInt(4);
        for (int i = 0; i < pieces; i++) {
            for (int k = r.nextInt(120); k > 0; k--) out.write(ALPHABET[r.nextInt(ALPHABET.length)]);
            Sig s = sigs.get(r.nextInt(sigs.size()));
            PatternOptions o = s.options();
            Parser.Parsed p = s.pattern().variant(o.nocase(), o.wide() && (!o.ascii() || r.nextBoolean()), o.fullword());
            plant(r, p, out);
        }
        for (int k = r.nextInt(40); k > 0; k--) out.write(ALPHABET[r.nextInt(ALPHABET.length)]);
        return out.toByteArray();
    }

    /** Writes one instance of the pattern (wildcards filled at random). */
    private static void plant(Random r, Parser.Parsed p, ByteArrayOutputStream out) {
        for (int i = 0; i < p.parts().size(); i++) {
            if (i > 0) {
                int lo = p.gapMin()[i - 1], hi = p.gapMax()[i - 1] < 0 ? lo + 20 : p.gapMax()[i - 1];
                for (int k = lo + r.nextInt(hi - lo + 1); k > 0; k--) out.write(ALPHABET[r.nextInt(ALPHABET.length)]);
            }
            instance(r, p.parts().get(i), out);
        }
    }

    private static void instance(Random r, List<Node> nodes, ByteArrayOutputStream out) {
        for (Node n : nodes) {
            switch (n) {
                case Node.Bytes(ByteSet s) -> out.write(member(r, s));
                case Node.Behind(ByteSet s, int min, int max) -> {
                    out.write(member(r, s));
                    for (int k = min + r.nextInt(max - min + 1); k > 0; k--) out.write(ALPHABET[r.nextInt(ALPHABET.length)]);
                }
                case Node.Ahead(ByteSet s, int min, int max) -> {
                    for (int k = min + r.nextInt(max - min + 1); k > 0; k--) out.write(ALPHABET[r.nextInt(ALPHABET.length)]);
                    out.write(member(r, s));
                }
                case Node.Edge e -> {
                    if (!e.negated() && !e.right()) out.write(e.marker() == Node.Marker.LINE ? '\n' : ' ');
                }
                case Node.Alt(List<List<Node>> branches) -> instance(r, branches.get(r.nextInt(branches.size())), out);
                case Node.NotAlt(int len, List<List<ByteSet>> strings) -> {
                    for (int k = 0; k < len; k++) out.write('x');
                }
                case Node.Special(Node.Marker m, boolean neg) -> {
                    if (neg) out.write('x');
                    else if (m == Node.Marker.LINE) out.writeBytes(r.nextBoolean() ? new byte[] {'\n'} : new byte[] {'\r', '\n'});
                    else out.write(m == Node.Marker.BOUNDARY ? ' ' : '-');
                }
            }
        }
    }

    private static int member(Random r, ByteSet s) {
        List<Integer> nice = new ArrayList<>();
        for (byte b : ALPHABET) if (s.has(b & 0xff)) nice.add(b & 0xff);
        if (!nice.isEmpty() && r.nextInt(4) != 0) return nice.get(r.nextInt(nice.size()));
        while (true) {
            int b = r.nextInt(256);
            if (s.has(b)) return b;
        }
    }
}
