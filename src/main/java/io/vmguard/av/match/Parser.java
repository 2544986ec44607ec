package io.vmguard.av.match;

import java.util.ArrayList;
import java.util.List;

/**
 * Parses ClamAV's body hex syntax into parts and gaps, with ClamAV's rules for what is malformed
 * ({@code readdb.c:cli_add_content_match_pattern}, {@code matcher-ac.c:cli_ac_addsig}).
 */
final class Parser {
    /** The parsed signature: parts separated by gaps ({@code gapMax[i] < 0}: unbounded); wide: (W) looks at 2 bytes. */
    record Parsed(List<List<Node>> parts, int[] gapMin, int[] gapMax, boolean wide) {}

    /**
     * The pattern cut at its unbounded gaps ({@code *}, {@code {n-}}) into segments that are matched on their own
     * and joined after the scan; {@code gapMin[i]} is the least gap between segment i and i+1. Edge markers
     * stay with the first and the last segment.
     */
    record Segments(List<Parsed> segments, int[] gapMin) {}

    static Segments segments(Parsed p) {
        List<Parsed> out = new ArrayList<>();
        List<Integer> gaps = new ArrayList<>();
        int from = 0;
        int n = p.parts().size();
        for (int i = 0; i <= n - 1; i++) {
            boolean cut = i == n - 1 || p.gapMax()[i] < 0;
            if (!cut) continue;
            int[] gmin = java.util.Arrays.copyOfRange(p.gapMin(), from, i);
            int[] gmax = java.util.Arrays.copyOfRange(p.gapMax(), from, i);
            out.add(new Parsed(p.parts().subList(from, i + 1), gmin, gmax, p.wide()));
            if (i < n - 1) gaps.add(p.gapMin()[i]);
            from = i + 1;
        }
        return new Segments(out, gaps.stream().mapToInt(Integer::intValue).toArray());
    }

    static final int MAX_NEST = 15;   // ClamAV's ACPATT_ALTN_MAXNEST
    static final int MAX_BRACKET = 32; // ClamAV's AC_CH_MAXDIST

    private final String src;
    private final boolean nocase;

    private Parser(String src, boolean nocase) {
        this.src = src;
        this.nocase = nocase;
    }

    /** Parses with ClamAV's sigopt rewrites applied first (fullword, then wide), as its loader does. */
    static Parsed parse(String hex, boolean nocase, boolean wide, boolean fullword) throws PatternSyntaxException {
        String s = hex;
        if (s.isEmpty()) throw new PatternSyntaxException("empty signature body");
        if (fullword) s = ("(W)" + s + "(W)").replace('[', '{').replace(']', '}');
        if (wide) s = widen(s);
        return new Parser(s, nocase).parseAll(wide);
    }

    /** ClamAV's textual wide rewrite: every byte token gets a 00 after it; [x-y] becomes {x-y}. */
    private static String widen(String s) throws PatternSyntaxException {
        StringBuilder b = new StringBuilder(s.length() * 2);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '*' || c == '|' || c == ')') {
                b.append(c);
            } else if (c == '[' || c == '{') {
                int close = s.indexOf(c == '[' ? ']' : '}', i);
                if (close < 0) throw new PatternSyntaxException("unclosed '" + c + "' at " + i);
                b.append('{').append(s, i + 1, close).append('}');
                i = close;
            } else if (c == '!' || c == '(') {
                if (c == '!') {
                    b.append(c);
                    i++;
                    if (i >= s.length()) throw new PatternSyntaxException("'!' at the end");
                }
                b.append(s.charAt(i));
                if (i + 2 < s.length() && "BLW".indexOf(s.charAt(i + 1)) >= 0 && s.charAt(i + 2) == ')') {
                    b.append(s.charAt(i + 1)).append(')');
                    i += 2;
                }
            } else {
                if (i + 1 >= s.length()) throw new PatternSyntaxException("odd number of hex digits");
                b.append(c).append(s.charAt(i + 1)).append("00");
                i++;
            }
        }
        return b.toString();
    }

    private Parsed parseAll(boolean wide) throws PatternSyntaxException {
        String s = src;
        if (s.isEmpty()) throw new PatternSyntaxException("signature has no bytes");
        checkCharacters(s);
        s = expandSmallRepeats(s);

        List<String> partTexts = new ArrayList<>();
        List<int[]> gaps = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (c == '*' || c == '{') {
                if (depth > 0) {
                    throw new PatternSyntaxException(c == '*' ? "'*' inside an alternative" : "ranged wildcard {..} inside an alternative");
                }
                partTexts.add(s.substring(start, i));
                if (c == '*') {
                    gaps.add(new int[] {0, -1});
                    start = i + 1;
                } else {
                    int close = s.indexOf('}', i);
                    if (close < 0) throw new PatternSyntaxException("unclosed '{'");
                    gaps.add(range(s.substring(i + 1, close)));
                    start = close + 1;
                    i = close;
                }
            }
        }
        if (depth != 0) throw new PatternSyntaxException("unbalanced parentheses");
        partTexts.add(s.substring(start));

        List<List<Node>> parts = new ArrayList<>();
        for (int p = 0; p < partTexts.size(); p++) {
            parts.add(parsePart(partTexts.get(p), p + 1));
        }
        int[] gmin = new int[gaps.size()], gmax = new int[gaps.size()];
        for (int i = 0; i < gaps.size(); i++) {
            gmin[i] = gaps.get(i)[0];
            gmax[i] = gaps.get(i)[1];
        }
        return new Parsed(List.copyOf(parts), gmin, gmax, wide);
    }

    private static Node.Marker marker(char c) {
        return switch (c) {
            case 'B' -> Node.Marker.BOUNDARY;
            case 'L' -> Node.Marker.LINE;
            default -> Node.Marker.WORD;
        };
    }

    private static void checkCharacters(String s) throws PatternSyntaxException {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (hex(c) < 0 && "?*{}[]()|!-BLW".indexOf(c) < 0 && !(c >= '0' && c <= '9')) {
                throw new PatternSyntaxException("bad character '" + c + "' at " + i + " in signature body");
            }
        }
    }

    /**
     * ClamAV rewrites {n} (0 < n < 128) into n x ?? while it is the first brace of what is left of the
     * signature; from the first brace of any other kind on, every brace splits the signature into parts.
     */
    private static String expandSmallRepeats(String s) throws PatternSyntaxException {
        while (true) {
            int open = s.indexOf('{');
            if (open < 0) return s;
            int close = s.indexOf('}', open);
            if (close < 0) throw new PatternSyntaxException("unclosed '{'");
            String body = s.substring(open + 1, close);
            if (!isNumber(body)) return s;
            long n = Long.parseLong(body);
            if (n <= 0 || n >= 128) return s;
            s = s.substring(0, open) + "??".repeat((int) n) + s.substring(close + 1);
        }
    }

    private static boolean isNumber(String t) {
        return !t.isEmpty() && t.length() <= 9 && t.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    private static int[] range(String body) throws PatternSyntaxException {
        int dash = body.indexOf('-');
        if (dash < 0) {
            if (!isNumber(body)) throw new PatternSyntaxException("bad gap {" + body + "}");
            int n = Integer.parseInt(body);
            return new int[] {n, n};
        }
        String a = body.substring(0, dash), b = body.substring(dash + 1);
        if ((!a.isEmpty() && !isNumber(a)) || (!b.isEmpty() && !isNumber(b)) || (a.isEmpty() && b.isEmpty())) {
            throw new PatternSyntaxException("bad gap {" + body + "}");
        }
        int lo = a.isEmpty() ? 0 : Integer.parseInt(a);
        int hi = b.isEmpty() ? -1 : Integer.parseInt(b);
        if (hi >= 0 && hi < lo) throw new PatternSyntaxException("bad gap {" + body + "}: the minimum is above the maximum");
        return new int[] {lo, hi};
    }

    // ---- one part ----

    private String text;
    private int pos;
    private int nest;

    /** A bracket {@code [x-y]} while a part is read; it only survives next to the part's first or last byte. */
    private record Bracket(int min, int max) {}

    /**
     * One part, the way ClamAV's cli_ac_addsig reads it: first a leading {@code aa[x-y]} and a trailing
     * {@code [x-y]aa} come off, then a (B)/(L)/(W) at the very start or end of what is left is an edge test;
     * what remains must be at least 2 bytes with 2 static bytes in a row.
     */
    private List<Node> parsePart(String partText, int number) throws PatternSyntaxException {
        text = partText;
        pos = 0;
        nest = 0;
        List<Object> raw = new ArrayList<>();
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == '[') {
                int close = text.indexOf(']', pos);
                if (close < 0) throw new PatternSyntaxException("unclosed '['");
                int[] r = range(text.substring(pos + 1, close));
                if (r[1] < 0) throw new PatternSyntaxException("bad bracket [" + text.substring(pos + 1, close) + "]");
                if (r[1] > MAX_BRACKET) {
                    throw new PatternSyntaxException("bracket [" + r[0] + "-" + r[1] + "] is above the limit of " + MAX_BRACKET);
                }
                raw.add(new Bracket(r[0], r[1]));
                pos = close + 1;
            } else {
                raw.add(parseElement(true));
            }
        }
        Node.Behind behind = null;
        Node.Ahead ahead = null;
        if (raw.size() >= 2 && raw.get(1) instanceof Bracket(int lo, int hi) && raw.get(0) instanceof Node.Bytes(ByteSet set)) {
            behind = new Node.Behind(set, lo, hi);
            raw = raw.subList(2, raw.size());
        }
        int n = raw.size();
        if (n >= 2 && raw.get(n - 2) instanceof Bracket(int lo, int hi) && raw.get(n - 1) instanceof Node.Bytes(ByteSet set)) {
            ahead = new Node.Ahead(set, lo, hi);
            raw = raw.subList(0, n - 2);
        }
        for (Object o : raw) {
            if (o instanceof Bracket) {
                throw new PatternSyntaxException("[x-y] must follow a single first byte or precede a single last byte of a part");
            }
        }
        List<Node> core = new ArrayList<>();
        for (Object o : raw) core.add((Node) o);
        Node.Edge left = null, right = null;
        if (!core.isEmpty() && core.getFirst() instanceof Node.Special(Node.Marker m, boolean neg)) {
            left = new Node.Edge(m, neg, false);
            core.removeFirst();
        }
        if (!core.isEmpty() && core.getLast() instanceof Node.Special(Node.Marker m, boolean neg)) {
            right = new Node.Edge(m, neg, true);
            core.removeLast();
        }
        if (core.size() < 2) throw new PatternSyntaxException("part " + number + " is shorter than 2 bytes");
        if (!hasStaticRun(core)) {
            throw new PatternSyntaxException("part " + number + " has no run of 2 static bytes");
        }
        List<Node> nodes = new ArrayList<>();
        if (behind != null) nodes.add(behind);
        if (left != null) nodes.add(left);
        nodes.addAll(core);
        if (right != null) nodes.add(right);
        if (ahead != null) nodes.add(ahead);
        return List.copyOf(nodes);
    }

    private static boolean hasStaticRun(List<Node> nodes) {
        for (int i = 0; i + 1 < nodes.size(); i++) {
            if (isStatic(nodes.get(i)) && isStatic(nodes.get(i + 1))) return true;
        }
        return false;
    }

    private static boolean isStatic(Node n) {
        return n instanceof Node.Bytes(ByteSet s) && (s.size() == 1 || (s.size() == 2 && s.caseless().equals(s) && isCasePair(s)));
    }

    private static boolean isCasePair(ByteSet s) {
        for (int c = 'A'; c <= 'Z'; c++) if (s.has(c) && s.has(c + 32)) return true;
        return false;
    }

    /** One element: a byte token, or a parenthesised group. */
    private Node parseElement(boolean topLevel) throws PatternSyntaxException {
        char c = text.charAt(pos);
        if (c == '!' || c == '(') return parseGroup();
        if (c == ']' || c == ')' || c == '|' || c == '}' || c == '[') {
            throw new PatternSyntaxException("unexpected '" + c + "'");
        }
        return Node.Bytes.of(byteToken());
    }

    private ByteSet byteToken() throws PatternSyntaxException {
        if (pos + 1 >= text.length()) throw new PatternSyntaxException("odd number of hex digits");
        char a = text.charAt(pos), b = text.charAt(pos + 1);
        pos += 2;
        int ha = hex(a), hb = hex(b);
        if ((ha < 0 && a != '?') || (hb < 0 && b != '?')) {
            throw new PatternSyntaxException("bad hex byte '" + a + b + "'");
        }
        if (a == '?' && b == '?') return ByteSet.ANY;
        if (a == '?') return ByteSet.masked(hb, 0x0f);
        if (b == '?') return ByteSet.masked(ha << 4, 0xf0);
        ByteSet s = ByteSet.of(ha << 4 | hb);
        return nocase ? s.caseless() : s;
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    private Node parseGroup() throws PatternSyntaxException {
        boolean negated = text.charAt(pos) == '!';
        if (negated) {
            pos++;
            if (pos >= text.length() || text.charAt(pos) != '(') throw new PatternSyntaxException("'!' must be followed by '('");
        }
        pos++; // '('
        if (pos + 1 < text.length() && "BLW".indexOf(text.charAt(pos)) >= 0 && text.charAt(pos + 1) == ')') {
            Node.Marker m = marker(text.charAt(pos));
            pos += 2;
            return new Node.Special(m, negated);
        }
        if (++nest > MAX_NEST) throw new PatternSyntaxException("alternatives nested deeper than " + MAX_NEST);
        List<List<Node>> branches = new ArrayList<>();
        List<Node> cur = new ArrayList<>();
        boolean nestedGroup = false;
        while (true) {
            if (pos >= text.length()) throw new PatternSyntaxException("missing ')'");
            char c = text.charAt(pos);
            if (c == ')' || c == '|') {
                if (cur.isEmpty()) throw new PatternSyntaxException("empty alternative");
                branches.add(List.copyOf(cur));
                cur = new ArrayList<>();
                pos++;
                if (c == ')') break;
            } else if (c == '[') {
                throw new PatternSyntaxException("[x-y] inside an alternative");
            } else {
                nestedGroup |= c == '(' || c == '!';
                cur.add(parseElement(false));
            }
        }
        nest--;
        boolean singleBytes = branches.stream().allMatch(br -> br.size() == 1 && br.get(0) instanceof Node.Bytes);
        if (singleBytes) {
            ByteSet u = new ByteSet(0, 0, 0, 0);
            for (List<Node> br : branches) u = u.union(((Node.Bytes) br.get(0)).set());
            return Node.Bytes.of(negated ? u.complement() : u);
        }
        boolean allBytes = branches.stream().allMatch(br -> br.stream().allMatch(n -> n instanceof Node.Bytes));
        int len0 = branches.get(0).size();
        boolean sameLength = branches.stream().allMatch(br -> br.size() == len0);
        if (negated) {
            // ClamAV negates only single bytes and same-length literal strings, not generic alternatives.
            boolean literal = allBytes && !nestedGroup
                    && branches.stream().allMatch(br -> br.size() == 1 || br.stream().allMatch(Parser::isStatic));
            if (!literal || !sameLength) {
                throw new PatternSyntaxException("a negated alternative must hold single bytes or strings of one length");
            }
            List<List<ByteSet>> strings = new ArrayList<>();
            for (List<Node> br : branches) strings.add(br.stream().map(n -> ((Node.Bytes) n).set()).toList());
            return new Node.NotAlt(len0, List.copyOf(strings));
        }
        return new Node.Alt(List.copyOf(branches));
    }
}
