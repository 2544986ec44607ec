package io.vmguard.av.match;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One pattern variant compiled for the verifier: each part becomes a run of instructions in {@link #code},
 * alternatives become branch tables, so that {@link Verifier} can backtrack over it without allocating.
 */
final class Program {
    static final int LIT = 0, CLS = 1, ANY = 2, ALT = 3, JMP = 4, BEHIND = 5, NOT = 6, SPEC = 7, END = 8, AHEAD = 9, EDGE = 10;

    final int id;              // the caller's pattern id
    int chain = -1;            // the chain this program is a segment of (-1: a whole pattern)
    int segment;               // its place in that chain
    boolean unanchored;        // verified at every position (no anchor): its matches arrive out of order
    final int[] code;
    final int[] partStart;     // pc of each part
    final int[] gapMin, gapMax; // gap after part i (gapMax < 0: unbounded)
    final int[] restMin;       // minimum length from the start of part i to the end of the match
    final long[] classes;      // 4 words per byte class
    final boolean wide;        // (W) edges look at wide characters
    Parser.Parsed parsed;      // until the matcher is built

    Program(int id, Parser.Parsed p) {
        this.id = id;
        this.parsed = p;
        Builder b = new Builder();
        int n = p.parts().size();
        partStart = new int[n];
        for (int i = 0; i < n; i++) {
            partStart[i] = b.size;
            b.emit(p.parts().get(i));
            b.add(END, i);
        }
        code = java.util.Arrays.copyOf(b.code, b.size);
        classes = new long[b.classes.size() * 4];
        for (int i = 0; i < b.classes.size(); i++) {
            ByteSet s = b.classes.get(i);
            classes[4 * i] = s.w0();
            classes[4 * i + 1] = s.w1();
            classes[4 * i + 2] = s.w2();
            classes[4 * i + 3] = s.w3();
        }
        gapMin = p.gapMin();
        gapMax = p.gapMax();
        restMin = new int[n];
        long acc = 0;
        for (int i = n - 1; i >= 0; i--) {
            acc += Node.minLength(p.parts().get(i));
            restMin[i] = (int) Math.min(Integer.MAX_VALUE / 2, acc);
            if (i > 0) acc += p.gapMin()[i - 1];
        }
        wide = p.wide();
    }

    int minLength() {
        return restMin[0];
    }

    private static final class Builder {
        int[] code = new int[16];
        int size;
        final List<ByteSet> classes = new ArrayList<>();
        final Map<ByteSet, Integer> classIndex = new HashMap<>();

        void add(int... xs) {
            for (int x : xs) {
                if (size == code.length) code = java.util.Arrays.copyOf(code, size * 2);
                code[size++] = x;
            }
        }

        int cls(ByteSet s) {
            return classIndex.computeIfAbsent(s, k -> {
                classes.add(k);
                return classes.size() - 1;
            });
        }

        void emit(List<Node> nodes) {
            for (Node n : nodes) {
                switch (n) {
                    case Node.Bytes(ByteSet s) -> {
                        int single = s.single();
                        if (single >= 0) add(LIT, single);
                        else if (s.size() == 256) add(ANY);
                        else add(CLS, cls(s));
                    }
                    case Node.Behind(ByteSet set, int min, int max) -> add(BEHIND, cls(set), min, max);
                    case Node.Ahead(ByteSet set, int min, int max) -> add(AHEAD, cls(set), min, max);
                    case Node.Edge(Node.Marker m, boolean neg, boolean right) -> add(EDGE, m.ordinal(), (neg ? 1 : 0) | (right ? 2 : 0));
                    case Node.Special(Node.Marker m, boolean neg) -> add(SPEC, m.ordinal(), neg ? 1 : 0);
                    case Node.NotAlt(int len, List<List<ByteSet>> strings) -> {
                        add(NOT, len, strings.size());
                        for (List<ByteSet> str : strings) for (ByteSet s : str) add(cls(s));
                    }
                    case Node.Alt(List<List<Node>> branches) -> {
                        add(ALT, branches.size());
                        int table = size;
                        for (int i = 0; i < branches.size(); i++) add(0);
                        List<Integer> jumps = new ArrayList<>();
                        for (int i = 0; i < branches.size(); i++) {
                            code[table + i] = size;
                            emit(branches.get(i));
                            add(JMP, 0);
                            jumps.add(size - 1);
                        }
                        for (int j : jumps) code[j] = size;
                    }
                }
            }
        }
    }
}
