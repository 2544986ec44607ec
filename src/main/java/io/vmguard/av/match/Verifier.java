package io.vmguard.av.match;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vmguard.av.match.Program.*;

/**
 * Exact matching of one compiled program at one start, by backtracking over its instructions. Programs have
 * bounded gaps only (MultiMatcher cuts patterns at unbounded ones), so the work per start is bounded. One
 * instance per scan.
 */
final class Verifier {
    /** ClamAV's boundary table for (B): 1 = may precede a word, 2 = may follow one, 3 = both. */
    private static final byte[] BOUNDARY = new byte[256];

    static {
        for (int c : new int[] {' ', '-', '/', '_'}) BOUNDARY[c] = 3;
        for (int c : new int[] {'.', '<', '@'}) BOUNDARY[c] = 1;
        for (int c : new int[] {'\n', '\r', '"', '\'', '=', '>'}) BOUNDARY[c] = 2;
    }

    private final MemorySegment data;
    private final long size;

    Verifier(MemorySegment data) {
        this.data = data;
        this.size = data.byteSize();
    }

    long size() {
        return size;
    }

    int byteAt(long pos) {
        return data.get(ValueLayout.JAVA_BYTE, pos) & 0xff;
    }

    /** The end (exclusive) of the shortest match of {@code p} starting at {@code s}, or -1 when none starts there. */
    long matchAt(Program p, long s) {
        if (s < 0 || size - s < p.restMin[0]) return -1;
        return exec(p, p.partStart[0], s);
    }

    private long exec(Program p, int pc, long pos) {
        int[] code = p.code;
        while (true) {
            switch (code[pc]) {
                case LIT -> {
                    if (pos >= size || byteAt(pos) != code[pc + 1]) return -1;
                    pos++;
                    pc += 2;
                }
                case CLS -> {
                    if (pos >= size || !inClass(p, code[pc + 1], byteAt(pos))) return -1;
                    pos++;
                    pc += 2;
                }
                case ANY -> {
                    if (pos >= size) return -1;
                    pos++;
                    pc++;
                }
                case JMP -> pc = code[pc + 1];
                case ALT -> {
                    long best = -1;
                    for (int i = 0, n = code[pc + 1]; i < n; i++) {
                        best = min(best, exec(p, code[pc + 2 + i], pos));
                    }
                    return best;
                }
                case BEHIND -> {
                    // a byte of the class with min..max bytes between it and pos
                    boolean ok = false;
                    for (long at = pos - 1 - code[pc + 2]; at >= pos - 1 - code[pc + 3] && at >= 0 && !ok; at--) {
                        ok = inClass(p, code[pc + 1], byteAt(at));
                    }
                    if (!ok) return -1;
                    pc += 4;
                }
                case AHEAD -> {
                    boolean ok = false;
                    for (long at = pos + code[pc + 2]; at <= pos + code[pc + 3] && at < size && !ok; at++) {
                        ok = inClass(p, code[pc + 1], byteAt(at));
                    }
                    if (!ok) return -1;
                    pc += 4;
                }
                case EDGE -> {
                    int flags = code[pc + 2];
                    boolean ok = (flags & 2) != 0 ? rightOk(p, code[pc + 1], pos) : leftOk(p, code[pc + 1], pos);
                    if (ok == ((flags & 1) != 0)) return -1;
                    pc += 3;
                }
                case NOT -> {
                    int len = code[pc + 1], n = code[pc + 2];
                    if (size - pos < len) return -1;
                    for (int i = 0; i < n; i++) {
                        int base = pc + 3 + i * len;
                        boolean all = true;
                        for (int j = 0; j < len && all; j++) all = inClass(p, code[base + j], byteAt(pos + j));
                        if (all) return -1;
                    }
                    pos += len;
                    pc += 3 + n * len;
                }
                case SPEC -> {
                    int used = special(code[pc + 1], code[pc + 2] != 0, pos);
                    if (used == 0) return -1;
                    pos += used;
                    pc += 3;
                }
                case END -> {
                    return partEnd(p, code[pc + 1], pos);
                }
                default -> throw new IllegalStateException("bad opcode " + code[pc]);
            }
        }
    }

    private static long min(long best, long r) {
        return r >= 0 && (best < 0 || r < best) ? r : best;
    }

    private static boolean inClass(Program p, int cls, int b) {
        return (p.classes[4 * cls + (b >>> 6)] >>> (b & 63) & 1) != 0;
    }

    /** After part {@code pi} ended at {@code e}: the gap, then the rest of the pattern. */
    private long partEnd(Program p, int pi, long e) {
        if (pi == p.partStart.length - 1) return e;
        int next = pi + 1;
        long lo = e + p.gapMin[pi];
        long hi = Math.min(e + p.gapMax[pi], size - p.restMin[next]);
        long best = -1;
        for (long q = lo; q <= hi; q++) {
            if (best >= 0 && q + p.restMin[next] >= best) break;
            best = min(best, exec(p, p.partStart[next], q));
        }
        return best;
    }

    // ---- (B), (L), (W) ----

    private static boolean alnum(int b) {
        return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
    }

    /** Bytes a marker consumes inside a pattern at {@code pos}, 0 when it does not match there. */
    private int special(int marker, boolean negated, long pos) {
        if (pos >= size) return 0;
        int b = byteAt(pos);
        if (marker == Node.Marker.LINE.ordinal()) {
            int n = b == '\n' ? 1 : (b == '\r' && pos + 1 < size && byteAt(pos + 1) == '\n') ? 2 : 0;
            return negated ? (n == 0 ? 1 : 0) : n;
        }
        boolean hit = marker == Node.Marker.BOUNDARY.ordinal() ? BOUNDARY[b] != 0 : !alnum(b);
        return hit != negated ? 1 : 0;
    }

    /** The byte before {@code s} suits a left edge marker (or s is the file's start). */
    private boolean leftOk(Program p, int marker, long s) {
        if (s == 0) return true;
        if (marker == Node.Marker.BOUNDARY.ordinal()) {
            int c = BOUNDARY[byteAt(s - 1)];
            return c == 1 || c == 3;
        }
        if (marker == Node.Marker.LINE.ordinal()) return byteAt(s - 1) == '\n';
        if (p.wide) return s == 1 || !(alnum(byteAt(s - 2)) && byteAt(s - 1) == 0);
        return !alnum(byteAt(s - 1));
    }

    /** The byte at {@code e} suits a right edge marker (or e is the file's end). */
    private boolean rightOk(Program p, int marker, long e) {
        if (e == size) return true;
        if (marker == Node.Marker.BOUNDARY.ordinal()) return BOUNDARY[byteAt(e)] >= 2;
        if (marker == Node.Marker.LINE.ordinal()) {
            int b = byteAt(e);
            return b == '\n' || (b == '\r' && e + 1 < size && byteAt(e + 1) == '\n');
        }
        if (p.wide && e + 1 < size) return !(alnum(byteAt(e)) && byteAt(e + 1) == 0);
        return !alnum(byteAt(e));
    }
}
