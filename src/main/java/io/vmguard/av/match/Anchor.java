package io.vmguard.av.match;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The static bytes a pattern is found by: {@code length} (2..4) consecutive bytes whose distance from the
 * match start lies in {@code [minOffset, maxOffset]}, spelled as one or more keys (several when the anchor
 * holds nocase letters or a nibble). Keys are little-endian: the first byte is the low byte.
 */
record Anchor(int length, int[] keys, int minOffset, int maxOffset) {
    static final int MAX_KEYS = 64;       // more spellings than this and the window is no anchor
    static final int MAX_SPREAD = 1024;   // starts to try per anchor hit

    /**
     * Picks the most selective anchor of a program: among all windows of up to 4 static bytes in the parts
     * reachable from the match start through bounded gaps only, the one with the fewest expected false hits
     * per scanned byte (spellings x commonness of its bytes x starts to try), preferring keys few other
     * patterns use ({@code use} counts the keys already chosen). Null when there is none.
     */
    static Anchor choose(Parser.Parsed p, Map<Long, Integer> use) {
        Anchor best = null;
        double bestCost = Double.MAX_VALUE;
        long lo = 0, hi = 0;
        for (int pi = 0; pi < p.parts().size(); pi++) {
            List<Node> nodes = p.parts().get(pi);
            List<ByteSet> run = new ArrayList<>();
            long runLo = lo, runHi = hi;
            for (int ni = 0; ni <= nodes.size(); ni++) {
                Node n = ni < nodes.size() ? nodes.get(ni) : null;
                if (n instanceof Node.Bytes(ByteSet s) && s.size() <= 16) {
                    if (run.isEmpty()) {
                        runLo = lo;
                        runHi = hi;
                    }
                    run.add(s);
                } else {
                    for (int from = 0; from < run.size(); from++) {
                        for (int len = Math.min(4, run.size() - from); len >= 2; len--) {
                            Anchor a = window(run.subList(from, from + len), runLo + from, runHi + from);
                            if (a == null) continue;
                            double cost = a.cost(use);
                            if (cost < bestCost) {
                                bestCost = cost;
                                best = a;
                            }
                        }
                    }
                    run.clear();
                }
                if (n != null) {
                    lo += n.minLength();
                    hi += n.maxLength();
                }
            }
            if (pi < p.gapMin().length) {
                if (p.gapMax()[pi] < 0) break;
                lo += p.gapMin()[pi];
                hi += p.gapMax()[pi];
            }
            if (hi - lo > MAX_SPREAD) break;
        }
        return best;
    }

    private static Anchor window(List<ByteSet> sets, long lo, long hi) {
        if (hi - lo > MAX_SPREAD || hi > Integer.MAX_VALUE) return null;
        long combos = 1;
        for (ByteSet s : sets) combos *= s.size();
        if (combos > MAX_KEYS) return null;
        int[] keys = {0};
        for (int i = 0; i < sets.size(); i++) {
            ByteSet s = sets.get(i);
            int[] members = s.members();
            int[] next = new int[keys.length * members.length];
            int k = 0;
            for (int key : keys) {
                for (int b : members) next[k++] = key | b << (8 * i);
            }
            keys = next;
        }
        return new Anchor(sets.size(), keys, (int) lo, (int) hi);
    }

    /** Expected candidate starts per scanned byte, on data where 00 and ff are common (executables). */
    double cost(Map<Long, Integer> use) {
        double c = 0;
        for (int key : keys) {
            double pr = 1;
            for (int i = 0; i < length; i++) pr *= weight(key >>> (8 * i) & 0xff) / 256.0;
            c += pr * (1 + use.getOrDefault(tag(length, key), 0));
        }
        return c * (maxOffset - minOffset + 1);
    }

    private static double weight(int b) {
        return switch (b) {
            case 0x00 -> 24;
            case 0xff -> 6;
            case 0x48, 0x89, 0x8b, 0x0f, 0x24, 0x20, 0x01, 0xe8, 0x41, 0x4c, 0x83, 0x85, 0xc0, 0x74, 0x75 -> 3;
            default -> 0.8;
        };
    }

    static long tag(int length, int key) {
        return (long) length << 32 | (key & 0xffffffffL);
    }
}
