package io.vmguard.av.match;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A deliberately simple matcher for tests: for every start, the set of all reachable end positions, computed
 * node by node over the parsed pattern (no programs, no anchors, no caches). Quadratic; small data only.
 */
final class ReferenceMatcher {
    private final byte[] d;

    ReferenceMatcher(byte[] data) {
        this.d = data;
    }

    /** start -> shortest end, for every start of a match of this parsed pattern inside [first, last]. */
    TreeMap<Long, Long> all(Parser.Parsed p, long first, long last) {
        TreeMap<Long, Long> out = new TreeMap<>();
        for (long s = Math.max(0, first); s <= Math.min(last, d.length - 1L); s++) {
            int e = shortest(p, (int) s);
            if (e >= 0) out.put(s, (long) e);
        }
        return out;
    }

    private boolean wide;

    int shortest(Parser.Parsed p, int s) {
        wide = p.wide();
        TreeSet<Integer> ends = ends(p.parts().get(0), 0, s);
        for (int i = 1; i < p.parts().size(); i++) {
            TreeSet<Integer> next = new TreeSet<>();
            for (int e : ends) {
                int hi = p.gapMax()[i - 1] < 0 ? d.length : Math.min(d.length, e + p.gapMax()[i - 1]);
                for (int q = e + p.gapMin()[i - 1]; q <= hi; q++) next.addAll(ends(p.parts().get(i), 0, q));
            }
            ends = next;
        }
        return ends.isEmpty() ? -1 : ends.first();
    }

    private TreeSet<Integer> ends(List<Node> nodes, int i, int pos) {
        TreeSet<Integer> out = new TreeSet<>();
        if (pos > d.length) return out;
        if (i == nodes.size()) {
            out.add(pos);
            return out;
        }
        switch (nodes.get(i)) {
            case Node.Bytes(ByteSet set) -> {
                if (pos < d.length && set.has(d[pos] & 0xff)) out.addAll(ends(nodes, i + 1, pos + 1));
            }
            case Node.Behind(ByteSet set, int min, int max) -> {
                boolean ok = false;
                for (int k = min; k <= max; k++) ok |= pos - 1 - k >= 0 && set.has(d[pos - 1 - k] & 0xff);
                if (ok) out.addAll(ends(nodes, i + 1, pos));
            }
            case Node.Ahead(ByteSet set, int min, int max) -> {
                boolean ok = false;
                for (int k = min; k <= max; k++) ok |= pos + k < d.length && set.has(d[pos + k] & 0xff);
                if (ok) out.addAll(ends(nodes, i + 1, pos));
            }
            case Node.Edge e -> {
                if (e.right() ? right(e, wide, pos) : left(e, wide, pos)) out.addAll(ends(nodes, i + 1, pos));
            }
            case Node.Alt(List<List<Node>> branches) -> {
                for (List<Node> br : branches) for (int e : ends(br, 0, pos)) out.addAll(ends(nodes, i + 1, e));
            }
            case Node.NotAlt(int len, List<List<ByteSet>> strings) -> {
                if (pos + len > d.length) break;
                for (List<ByteSet> str : strings) {
                    boolean eq = true;
                    for (int j = 0; j < len; j++) eq &= str.get(j).has(d[pos + j] & 0xff);
                    if (eq) return out;
                }
                out.addAll(ends(nodes, i + 1, pos + len));
            }
            case Node.Special(Node.Marker m, boolean neg) -> {
                if (pos >= d.length) break;
                int b = d[pos] & 0xff;
                List<Integer> lens = new ArrayList<>();
                switch (m) {
                    case LINE -> {
                        boolean nl = b == '\n', crlf = b == '\r' && pos + 1 < d.length && d[pos + 1] == '\n';
                        if (!neg && nl) lens.add(1);
                        if (!neg && crlf) lens.add(2);
                        if (neg && !nl && !crlf) lens.add(1);
                    }
                    case BOUNDARY -> { if ((boundary(b) != 0) != neg) lens.add(1); }
                    case WORD -> { if (!alnum(b) != neg) lens.add(1); }
                }
                for (int l : lens) out.addAll(ends(nodes, i + 1, pos + l));
            }
        }
        return out;
    }

    static int boundary(int b) {
        return switch (b) {
            case ' ', '-', '/', '_' -> 3;
            case '.', '<', '@' -> 1;
            case '\n', '\r', '"', '\'', '=', '>' -> 2;
            default -> 0;
        };
    }

    static boolean alnum(int b) {
        return Character.isLetterOrDigit(b) && b < 128;
    }

    private boolean left(Node.Edge e, boolean wide, int s) {
        boolean ok = switch (e.marker()) {
            case BOUNDARY -> s == 0 || boundary(d[s - 1] & 0xff) % 2 == 1;
            case LINE -> s == 0 || d[s - 1] == '\n';
            case WORD -> s == 0 || (wide ? s == 1 || !(alnum(d[s - 2] & 0xff) && d[s - 1] == 0) : !alnum(d[s - 1] & 0xff));
        };
        return ok != e.negated();
    }

    private boolean right(Node.Edge e, boolean wide, int x) {
        boolean ok = x == d.length || switch (e.marker()) {
            case BOUNDARY -> boundary(d[x] & 0xff) >= 2;
            case LINE -> d[x] == '\n' || (d[x] == '\r' && x + 1 < d.length && d[x + 1] == '\n');
            case WORD -> wide && x + 1 < d.length ? !(alnum(d[x] & 0xff) && d[x + 1] == 0) : !alnum(d[x] & 0xff);
        };
        return ok != e.negated();
    }
}
