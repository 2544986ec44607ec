package io.vmguard.av.match;

import java.util.List;

/** One element of a parsed body pattern part. */
sealed interface Node {
    int minLength();

    int maxLength();

    /** One byte from a set: a literal, {@code ??}, a nibble, {@code (aa|bb)} or {@code !(aa|bb)}. */
    record Bytes(ByteSet set) implements Node {
        private static final Bytes[] SINGLE = new Bytes[256];
        private static final Bytes ANY = new Bytes(ByteSet.ANY);

        static {
            for (int b = 0; b < 256; b++) SINGLE[b] = new Bytes(ByteSet.of(b));
        }

        /** A shared node for a single byte or {@code ??}, a new one otherwise. */
        static Bytes of(ByteSet set) {
            if (set.equals(ByteSet.ANY)) return ANY;
            int single = set.single();
            return single >= 0 ? SINGLE[single] : new Bytes(set);
        }

        public int minLength() { return 1; }
        public int maxLength() { return 1; }
    }

    /** {@code (a|bbbb|cc??dd)}: branches of any length, possibly nested. */
    record Alt(List<List<Node>> branches) implements Node {
        public int minLength() { return branches.stream().mapToInt(Node::minLength).min().orElse(0); }
        public int maxLength() { return branches.stream().mapToInt(Node::maxLength).max().orElse(0); }
    }

    /** {@code !(aabb|ccdd)}: any {@code length} bytes that are none of the strings. */
    record NotAlt(int length, List<List<ByteSet>> strings) implements Node {
        public int minLength() { return length; }
        public int maxLength() { return length; }
    }

    /**
     * {@code aa[x-y]} before a part: a byte from {@code set} with x..y bytes between it and the part. Zero-width:
     * as in ClamAV the match starts after it (offsets, gaps and edge markers all refer to the part itself).
     */
    record Behind(ByteSet set, int min, int max) implements Node {
        public int minLength() { return 0; }
        public int maxLength() { return 0; }
    }

    /** {@code [x-y]aa} after a part: x..y bytes after the part's end, then a byte from {@code set}. Zero-width. */
    record Ahead(ByteSet set, int min, int max) implements Node {
        public int minLength() { return 0; }
        public int maxLength() { return 0; }
    }

    /**
     * {@code (B)}, {@code (L)}, {@code (W)} at the start or end of a part (after ClamAV has taken the brackets
     * off): a zero-width test of the byte before ({@code right == false}) or after the part, the file's edge
     * counting as a match.
     */
    record Edge(Marker marker, boolean negated, boolean right) implements Node {
        public int minLength() { return 0; }
        public int maxLength() { return 0; }
    }

    /** {@code (B)}, {@code (L)}, {@code (W)} inside a pattern: they consume the byte(s) they describe. */
    record Special(Marker marker, boolean negated) implements Node {
        public int minLength() { return 1; }
        public int maxLength() { return marker == Marker.LINE && !negated ? 2 : 1; }
    }

    enum Marker { BOUNDARY, LINE, WORD }

    static int minLength(List<Node> seq) {
        int n = 0;
        for (Node x : seq) n += x.minLength();
        return n;
    }

    static int maxLength(List<Node> seq) {
        int n = 0;
        for (Node x : seq) n += x.maxLength();
        return n;
    }
}
