package io.vmguard.av.match;

import java.util.ArrayList;
import java.util.List;

/**
 * The static bytes a pattern is found by: {@code length} (2..4) consecutive bytes whose distance from the
 * match start lies in {@code [minOffset, maxOffset]}, spelled as one or more keys (several when the anchor
 * holds nocase letters or a nibble). Keys are little-endian: the first byte is the low byte. The confirm word:
 * 4 bytes at {@code confirmOffset} from the anchor, masked by {@code confirmMask}, must equal {@code confirmValue}
 * in any match (mask 0: no such test); it is checked before the verifier, which makes short anchors cheap.
 */
record Anchor(int length, int[] keys, int minOffset, int maxOffset, int confirmOffset, int confirmValue, int confirmMask) {
    static final int MAX_KEYS = 64;       // more spellings than this and the window is no anchor
    static final int MAX_SPREAD = 1024;   // starts to try per anchor hit

    /**
     * Picks the most selective anchor of a program: among all windows of up to 4 static bytes in the parts
     * reachable from the match start through bounded gaps only, the one with the fewest expected false hits
     * per scanned byte (spellings x commonness of its bytes x starts to try). Short (2-3 byte) keys that other
     * patterns already use cost more ({@code use} counts them), which spreads the verification work. Null when
     * there is none.
     */
    static Anchor choose(Parser.Parsed p, Usage use) {
        List<ByteSet> best = null;
        long bestLo = 0, bestHi = 0;
        int bestPart = 0, bestNode = 0;
        double bestCost = Double.MAX_VALUE;
        long lo = 0, hi = 0;
        List<ByteSet> run = new ArrayList<>();
        for (int pi = 0; pi < p.parts().size(); pi++) {
            List<Node> nodes = p.parts().get(pi);
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
                    if (runHi - runLo <= MAX_SPREAD) {
                        // The longest windows only: a 4-byte window always beats its own 2- and 3-byte parts.
                        int len = Math.min(4, run.size());
                        for (int from = 0; len >= 2 && from + len <= run.size(); from++) {
                            List<ByteSet> w = run.subList(from, from + len);
                            double cost = cost(w, use) * (runHi - runLo + 1);
                            if (cost < bestCost) {
                                bestCost = cost;
                                best = List.copyOf(w);
                                bestLo = runLo + from;
                                bestHi = runHi + from;
                                bestPart = pi;
                                bestNode = ni - run.size() + from;
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
        if (best == null) return null;
        return window(best, bestLo, bestHi, confirm(p.parts().get(bestPart), bestNode, best.size()));
    }

    /**
     * The best confirm word: among the 4-byte windows of single-byte nodes around the anchor (at fixed distances
     * from it), the one that fixes most bits outside the anchor. {offset, value, mask}; mask 0 when none fixes 8.
     */
    private static int[] confirm(List<Node> nodes, int at, int len) {
        int from = at, to = at + len;
        // Within 16 bytes of the anchor: enough to find fixed bytes, and long runs of ?? cost nothing.
        while (from > 0 && at - from < 16 && nodes.get(from - 1) instanceof Node.Bytes) from--;
        while (to < nodes.size() && to - at < 16 + len && nodes.get(to) instanceof Node.Bytes) to++;
        int[] best = {0, 0, 0};
        int bestBits = 7;
        for (int w = from; w + 4 <= to; w++) {
            int value = 0, mask = 0;
            for (int j = 0; j < 4; j++) {
                if (w + j >= at && w + j < at + len) continue; // the anchor itself is known already
                int[] vm = fixedBits(((Node.Bytes) nodes.get(w + j)).set());
                value |= vm[0] << (8 * j);
                mask |= vm[1] << (8 * j);
            }
            int bits = Integer.bitCount(mask);
            if (bits > bestBits) {
                bestBits = bits;
                best = new int[] {w - at, value, mask};
            }
        }
        return best;
    }

    /** {value, mask}: the bits every member of the set has in common. */
    private static int[] fixedBits(ByteSet s) {
        int single = s.single();
        if (single >= 0) return new int[] {single, 0xff};
        if (s.size() > 128) return new int[] {0, 0};   // no bit is common to more than half the bytes
        int and = 0xff, or = 0;
        for (int b : s.members()) {
            and &= b;
            or |= b;
        }
        int mask = ~(and ^ or) & 0xff;
        return new int[] {and & mask, mask};
    }

    private static Anchor window(List<ByteSet> sets, long lo, long hi, int[] confirm) {
        int[] keys = {0};
        for (int i = 0; i < sets.size(); i++) {
            int[] members = sets.get(i).members();
            int[] next = new int[keys.length * members.length];
            int k = 0;
            for (int key : keys) {
                for (int b : members) next[k++] = key | b << (8 * i);
            }
            keys = next;
        }
        return new Anchor(sets.size(), keys, (int) lo, (int) hi, confirm[0], confirm[1], confirm[2]);
    }

    /** Expected hits per scanned byte, on data where 00 and ff are common (executables); MAX_VALUE: too many spellings. */
    private static double cost(List<ByteSet> w, Usage use) {
        double pr = 1;
        long combos = 1;
        int key = 0;
        for (int i = 0; i < w.size(); i++) {
            ByteSet s = w.get(i);
            combos *= s.size();
            int single = s.single();
            if (single >= 0) {
                pr *= WEIGHT[single] / 256.0;
                key |= single << (8 * i);
            } else {
                double sum = 0;
                for (int b : s.members()) sum += WEIGHT[b];
                pr *= sum / 256.0;
            }
        }
        if (combos > MAX_KEYS) return Double.MAX_VALUE;
        if (w.size() < 4 && combos == 1) pr *= 1 + use.get(tag(w.size(), key));
        return pr;
    }

    private static final double[] WEIGHT = new double[256];

    static {
        java.util.Arrays.fill(WEIGHT, 0.8);
        WEIGHT[0x00] = 24;
        WEIGHT[0xff] = 6;
        for (int b : new int[] {0x48, 0x89, 0x8b, 0x0f, 0x24, 0x20, 0x01, 0xe8, 0x41, 0x4c, 0x83, 0x85, 0xc0, 0x74, 0x75}) WEIGHT[b] = 3;
    }

    /** How many programs use each short anchor key so far. */
    static final class Usage {
        private final java.util.HashMap<Long, Integer> counts = new java.util.HashMap<>();

        int get(long tag) {
            return counts.getOrDefault(tag, 0);
        }

        void add(Anchor a) {
            if (a.length() < 4) for (int k : a.keys()) counts.merge(tag(a.length(), k), 1, Integer::sum);
        }
    }

    static long tag(int length, int key) {
        return (long) length << 32 | (key & 0xffffffffL);
    }
}
