package io.vmguard.av.match;

/** An immutable set of byte values, as four 64-bit words. */
record ByteSet(long w0, long w1, long w2, long w3) {
    static final ByteSet ANY = new ByteSet(-1L, -1L, -1L, -1L);

    // Shared instances: a database holds millions of literal bytes, and parsed patterns are kept by their users.
    private static final ByteSet[] SINGLE = new ByteSet[256];
    private static final ByteSet[] HIGH = new ByteSet[16], LOW = new ByteSet[16];

    static {
        for (int b = 0; b < 256; b++) SINGLE[b] = new ByteSet(0, 0, 0, 0).with(b);
        for (int n = 0; n < 16; n++) {
            HIGH[n] = build(n << 4, 0xf0);
            LOW[n] = build(n, 0x0f);
        }
    }

    static ByteSet of(int b) {
        return SINGLE[b & 0xff];
    }

    /** The bytes whose bits under {@code mask} (0xf0 or 0x0f) equal {@code value}: nibbles {@code a?} / {@code ?a}. */
    static ByteSet masked(int value, int mask) {
        return mask == 0xf0 ? HIGH[value >>> 4 & 15] : LOW[value & 15];
    }

    private static ByteSet build(int value, int mask) {
        ByteSet s = new ByteSet(0, 0, 0, 0);
        for (int b = 0; b < 256; b++) {
            if ((b & mask) == value) s = s.with(b);
        }
        return s;
    }

    ByteSet with(int b) {
        long bit = 1L << (b & 63);
        return switch (b >>> 6) {
            case 0 -> new ByteSet(w0 | bit, w1, w2, w3);
            case 1 -> new ByteSet(w0, w1 | bit, w2, w3);
            case 2 -> new ByteSet(w0, w1, w2 | bit, w3);
            default -> new ByteSet(w0, w1, w2, w3 | bit);
        };
    }

    boolean has(int b) {
        long w = switch (b >>> 6) {
            case 0 -> w0;
            case 1 -> w1;
            case 2 -> w2;
            default -> w3;
        };
        return (w >>> (b & 63) & 1) != 0;
    }

    ByteSet union(ByteSet o) {
        return new ByteSet(w0 | o.w0, w1 | o.w1, w2 | o.w2, w3 | o.w3);
    }

    ByteSet complement() {
        return new ByteSet(~w0, ~w1, ~w2, ~w3);
    }

    int size() {
        return Long.bitCount(w0) + Long.bitCount(w1) + Long.bitCount(w2) + Long.bitCount(w3);
    }

    /** The single member, or -1 when the set has another size. */
    int single() {
        if (size() != 1) return -1;
        if (w0 != 0) return Long.numberOfTrailingZeros(w0);
        if (w1 != 0) return 64 + Long.numberOfTrailingZeros(w1);
        if (w2 != 0) return 128 + Long.numberOfTrailingZeros(w2);
        return 192 + Long.numberOfTrailingZeros(w3);
    }

    /** The members in increasing order. */
    int[] members() {
        int[] out = new int[size()];
        int k = 0;
        long[] ws = {w0, w1, w2, w3};
        for (int i = 0; i < 4; i++) {
            for (long w = ws[i]; w != 0; w &= w - 1) out[k++] = 64 * i + Long.numberOfTrailingZeros(w);
        }
        return out;
    }

    /** ClamAV's nocase: an ASCII letter also matches its other case. */
    ByteSet caseless() {
        ByteSet s = this;
        for (int c = 'A'; c <= 'Z'; c++) {
            if (has(c) || has(c + 32)) s = s.with(c).with(c + 32);
        }
        return s;
    }
}
