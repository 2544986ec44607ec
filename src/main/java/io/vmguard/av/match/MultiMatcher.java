package io.vmguard.av.match;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Many body patterns compiled once and matched together, at a cost per scanned byte that does not grow with
 * the number of patterns: each pattern is found through one short static anchor (2-4 bytes, see
 * {@link Anchor}); one pass over the data tests each position against a bitmap per anchor length, looks
 * the few surviving positions up in a hash table, and verifies the patterns found there exactly
 * ({@link Verifier}). Patterns tied to a small window (offset {@code n}, {@code EOF-n}, {@code EP+n}...) skip
 * the prefilter and are verified at their window directly. Immutable and thread-safe.
 */
public final class MultiMatcher {
    /** Rules whose window is at most this wide are verified directly rather than through the prefilter. */
    static final long DIRECT_MAX_SHIFT = 64;
    // The data is copied into a byte[] a chunk at a time and read with a byte-array VarHandle: measured with 100k
    // anchors, about 1.5x faster than MemorySegment.get(JAVA_INT_UNALIGNED) straight from the segment. (Four
    // positions per 8-byte load with one combined branch was measured too: 10-20% slower.)
    private static final int CHUNK = 1 << 18;
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final Program[] programs;
    private final OffsetRule[] rules;      // null: anywhere
    private final int[] anchorLo, anchorHi; // distance of each program's anchor from its match start
    private final boolean[] sharedId;      // programs whose id has another variant (wide + ascii)
    private final int[] direct;            // programs verified at their window
    private final int[] everywhere;        // programs with no anchor: verified at every position (rare)
    private final AnchorTable t2, t3, t4;
    private final Chain[] chains;
    private final int size;

    /**
     * A pattern with unbounded gaps ({@code *}, {@code {n-}}), cut into segments (programs) that the prefilter
     * finds on their own; after the scan every occurrence of the first segment that has a chain of later
     * segments, each starting at least gapMin after the previous one ends, is a match.
     */
    record Chain(int[] programs, int[] gapMin) {}

    private MultiMatcher(Builder b) {
        int n = b.programs.size();
        programs = b.programs.toArray(Program[]::new);
        rules = new OffsetRule[n];
        anchorLo = new int[n];
        anchorHi = new int[n];
        sharedId = new boolean[n];
        chains = b.chains.toArray(Chain[]::new);
        size = b.next;
        Map<Integer, Integer> variants = new HashMap<>();
        for (Program p : programs) variants.merge(p.id, 1, Integer::sum);
        Anchor.Usage use = new Anchor.Usage();
        List<Integer> directList = new ArrayList<>(), everywhereList = new ArrayList<>();
        KeyList k2 = new KeyList(), k3 = new KeyList(), k4 = new KeyList();
        int[][] confirm = new int[n][];
        for (int i = 0; i < n; i++) {
            Program p = programs[i];
            OffsetRule r = b.rules.get(i);
            rules[i] = r instanceof OffsetRule.Any ? null : r;
            sharedId[i] = variants.get(p.id) > 1;
            if (isDirect(r) && p.segment == 0) {
                directList.add(i);
                continue;
            }
            Anchor a = Anchor.choose(p.parsed, use);
            if (a == null) {
                p.unanchored = true;
                everywhereList.add(i);
                continue;
            }
            anchorLo[i] = a.minOffset();
            anchorHi[i] = a.maxOffset();
            confirm[i] = new int[] {a.confirmOffset(), a.confirmValue(), a.confirmMask()};
            KeyList kl = a.length() == 2 ? k2 : a.length() == 3 ? k3 : k4;
            for (int key : a.keys()) kl.add(key, i);
            use.add(a);
        }
        for (Program p : programs) p.parsed = null; // only anchor choice needed the syntax tree
        direct = directList.stream().mapToInt(Integer::intValue).toArray();
        everywhere = everywhereList.stream().mapToInt(Integer::intValue).toArray();
        t2 = k2.table(2, confirm);
        t3 = k3.table(3, confirm);
        t4 = k4.table(4, confirm);
    }

    private static boolean isDirect(OffsetRule r) {
        return switch (r) {
            case OffsetRule.Absolute a -> a.shift() <= DIRECT_MAX_SHIFT;
            case OffsetRule.FromEnd f -> f.shift() <= DIRECT_MAX_SHIFT;
            case OffsetRule.EntryPoint e -> e.shift() <= DIRECT_MAX_SHIFT;
            case OffsetRule.SectionStart s -> s.shift() <= DIRECT_MAX_SHIFT;
            case OffsetRule.LastSectionStart s -> s.shift() <= DIRECT_MAX_SHIFT;
            default -> false;
        };
    }

    private static final class KeyList {
        int[] keys = new int[16], owners = new int[16];
        int count;

        void add(int key, int owner) {
            if (count == keys.length) {
                keys = java.util.Arrays.copyOf(keys, count * 2);
                owners = java.util.Arrays.copyOf(owners, count * 2);
            }
            keys[count] = key;
            owners[count++] = owner;
        }

        AnchorTable table(int length, int[][] confirm) {
            return count == 0 ? null : new AnchorTable(length, keys, owners, count, confirm);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final List<Program> programs = new ArrayList<>();
        private final List<OffsetRule> rules = new ArrayList<>();
        private final List<Chain> chains = new ArrayList<>();
        private int next;

        /**
         * Adds a pattern and returns its id (0, 1, 2... in the order of adding). Throws IllegalArgumentException
         * when the options break the pattern ({@link BodyPattern#checkOptions} says so beforehand).
         */
        public int add(BodyPattern p, OffsetRule rule, PatternOptions o) {
            List<Parser.Parsed> variants = new ArrayList<>(2);
            try {
                if (o.wide()) variants.add(p.variant(o.nocase(), true, o.fullword()));
                if (!o.wide() || o.ascii()) variants.add(p.variant(o.nocase(), false, o.fullword()));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException(p.source() + ": " + e.getMessage());
            }
            for (Parser.Parsed v : variants) {
                Parser.Segments segs = Parser.segments(v);
                if (segs.segments().size() == 1) {
                    programs.add(new Program(next, v));
                    rules.add(rule);
                    continue;
                }
                int[] members = new int[segs.segments().size()];
                for (int k = 0; k < members.length; k++) {
                    Program pr = new Program(next, segs.segments().get(k));
                    pr.chain = chains.size();
                    pr.segment = k;
                    members[k] = programs.size();
                    programs.add(pr);
                    rules.add(k == 0 ? rule : OffsetRule.ANY);
                }
                chains.add(new Chain(members, segs.gapMin()));
            }
            return next++;
        }

        public MultiMatcher build() {
            return new MultiMatcher(this);
        }
    }

    /** Number of patterns added (ids are 0..size-1). */
    public int size() {
        return size;
    }

    /** Reports matches of every pattern in data; the sink says whether to go on. Thread-safe (many scans at once). */
    public void scan(MemorySegment data, FileLayout layout, MatchSink sink) {
        Scan s = new Scan(data, layout, sink);
        if (!s.directs()) return;
        if (!s.everywhere()) return;
        s.prefilter();
        if (!s.stopped) s.joinChains();
    }

    /** How the patterns were indexed, for diagnostics: anchors per length, direct, everywhere. */
    String describe() {
        return "programs=" + programs.length + " anchor2=" + (t2 == null ? 0 : t2.entries.length / 4)
                + " anchor3=" + (t3 == null ? 0 : t3.entries.length / 4) + " anchor4=" + (t4 == null ? 0 : t4.entries.length / 4)
                + " bloomWords4=" + (t4 == null ? 0 : t4.bloom.length) + " direct=" + direct.length + " everywhere=" + everywhere.length;
    }

    /** Memory the compiled tables take, for --stats. */
    public long footprintBytes() {
        long n = 16L * programs.length * 4;
        for (Program p : programs) n += 96 + 4L * p.code.length + 8L * p.classes.length + 16L * p.partStart.length;
        for (AnchorTable t : new AnchorTable[] {t2, t3, t4}) if (t != null) n += t.footprint();
        return n;
    }

    /** Where one segment matched in one scan: (start, end) pairs. */
    private static final class Occurrences {
        long[] starts = new long[4], ends = new long[4];
        int n;
        long minEnd = Long.MAX_VALUE;

        void add(long s, long e) {
            if (n == starts.length) {
                starts = java.util.Arrays.copyOf(starts, n * 2);
                ends = java.util.Arrays.copyOf(ends, n * 2);
            }
            starts[n] = s;
            ends[n++] = e;
            minEnd = Math.min(minEnd, e);
        }

        /** Sorts the pairs by start (they arrive nearly sorted) and returns the ends in that order. */
        long[] sortedEnds() {
            for (int i = 1; i < n; i++) {
                long s = starts[i], e = ends[i];
                int j = i - 1;
                while (j >= 0 && starts[j] > s) {
                    starts[j + 1] = starts[j];
                    ends[j + 1] = ends[j];
                    j--;
                }
                starts[j + 1] = s;
                ends[j + 1] = e;
            }
            return java.util.Arrays.copyOf(ends, n);
        }
    }

    /** The first index in sorted a[0..n) whose value is >= key. */
    private static int lowerBound(long[] a, int n, long key) {
        int lo = 0, hi = n;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] < key) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /** One scan's state: the verifier and the bookkeeping that keeps one report per start. */
    private final class Scan {
        final MemorySegment data;
        final long size;
        final FileLayout layout;
        final MatchSink sink;
        final Verifier verifier;
        Map<Integer, Long> tried;     // ranged anchors: highest start already tried, per program
        Set<Long> reported;           // shared ids: (id, start) already reported
        Map<Integer, Occurrences> occurrences; // segments of chains: where they matched
        List<Integer> startedChains;  // chains whose first segment matched, in order
        boolean stopped;

        Scan(MemorySegment data, FileLayout layout, MatchSink sink) {
            this.data = data;
            this.size = data.byteSize();
            this.layout = layout;
            this.sink = sink;
            this.verifier = new Verifier(data);
        }

        boolean report(int prog, long start, long end) {
            if (sharedId[prog]) {
                if (reported == null) reported = new HashSet<>();
                if (!reported.add((long) programs[prog].id << 40 ^ start)) return true;
            }
            if (!sink.match(programs[prog].id, start, end)) stopped = true;
            return !stopped;
        }

        /** A program matched at [start, end): a whole pattern is reported, a segment is kept for joining. */
        boolean found(int prog, long start, long end) {
            Program p = programs[prog];
            if (p.chain < 0) return report(prog, start, end);
            if (p.segment > 0 && !p.unanchored) {
                // Only worth keeping after an occurrence of the previous segment that it may follow. That one's
                // anchor lies before this start, so it has been seen already (positions are scanned in order).
                Occurrences prev = occurrences == null ? null : occurrences.get(chains[p.chain].programs()[p.segment - 1]);
                if (prev == null || prev.minEnd + chains[p.chain].gapMin()[p.segment - 1] > start) return true;
            }
            if (occurrences == null) occurrences = new HashMap<>();
            Occurrences o = occurrences.get(prog);
            if (o == null) {
                occurrences.put(prog, o = new Occurrences());
                if (p.segment == 0) {
                    if (startedChains == null) startedChains = new ArrayList<>();
                    startedChains.add(p.chain);
                }
            }
            o.add(start, end);
            return true;
        }

        /** After the scan: report each first-segment occurrence that the later segments complete. */
        void joinChains() {
            if (startedChains == null) return;
            for (int c : startedChains) {
                Chain ch = chains[c];
                int last = ch.programs().length - 1;
                Occurrences[] occ = new Occurrences[last + 1];
                boolean complete = true;
                for (int k = 0; k <= last && complete; k++) {
                    occ[k] = occurrences.get(ch.programs()[k]);
                    complete = occ[k] != null;
                }
                if (!complete) continue;
                // Backwards: chainEnd of an occurrence of segment k = the least end of a whole chain from it;
                // suffix minima over the next segment's occurrences (sorted by start) answer "from q on".
                long[] chainEnd = occ[last].sortedEnds();
                for (int k = last - 1; k >= 0; k--) {
                    long[] nextStarts = occ[k + 1].starts;
                    int nn = occ[k + 1].n;
                    long[] suffix = new long[nn + 1];
                    suffix[nn] = Long.MAX_VALUE;
                    for (int j = nn - 1; j >= 0; j--) suffix[j] = Math.min(suffix[j + 1], chainEnd[j] < 0 ? Long.MAX_VALUE : chainEnd[j]);
                    long[] ends = occ[k].sortedEnds();
                    long[] mine = new long[occ[k].n];
                    for (int j = 0; j < occ[k].n; j++) {
                        int at = lowerBound(nextStarts, nn, ends[j] + ch.gapMin()[k]);
                        mine[j] = suffix[at] == Long.MAX_VALUE ? -1 : suffix[at];
                    }
                    chainEnd = mine;
                }
                for (int j = 0; j < occ[0].n; j++) {
                    if (chainEnd[j] >= 0 && !report(ch.programs()[0], occ[0].starts[j], chainEnd[j])) return;
                }
            }
        }

        boolean directs() {
            for (int i : direct) {
                OffsetRule.Window w = rules[i].window(layout);
                if (w == null) continue;
                for (long s = w.first(); s <= w.last(); s++) {
                    long e = verifier.matchAt(programs[i], s);
                    if (e >= 0 && !found(i, s, e)) return false;
                }
            }
            return true;
        }

        boolean everywhere() {
            for (int i : everywhere) {
                long first = 0, last = size - 1;
                if (rules[i] != null) {
                    OffsetRule.Window w = rules[i].window(layout);
                    if (w == null) continue;
                    first = w.first();
                    last = w.last();
                }
                for (long s = first; s <= last; s++) {
                    long e = verifier.matchAt(programs[i], s);
                    if (e >= 0 && !found(i, s, e)) return false;
                }
            }
            return true;
        }

        void prefilter() {
            if (size < 2 || (t2 == null && t3 == null && t4 == null)) return;
            byte[] buf = new byte[(int) Math.min(size, CHUNK) + 4];
            for (long base = 0; base < size && !stopped; base += CHUNK) {
                int n = (int) Math.min(CHUNK, size - base);
                int copy = (int) Math.min(n + 3, size - base);
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, base, buf, 0, copy);
                java.util.Arrays.fill(buf, copy, buf.length, (byte) 0);
                chunk(buf, n, base);
            }
        }

        private void chunk(byte[] buf, int n, long base) {
            AnchorTable a4 = t4, a3 = t3, a2 = t2;
            long[] b4 = a4 == null ? null : a4.bloom, b3 = a3 == null ? null : a3.bloom, b2 = a2 == null ? null : a2.bits2;
            int s4 = a4 == null ? 0 : a4.wordShift, s3 = a3 == null ? 0 : a3.wordShift;
            for (int i = 0; i < n; i++) {
                int v = (int) INT.get(buf, i);
                if (b4 != null) {
                    long h = (v & 0xffffffffL) * AnchorTable.HASH;
                    long m = 1L << (h >>> 20) | 1L << (h >>> 26);
                    if ((b4[(int) (h >>> s4)] & m) == m && !hit(a4, v, base + i)) return;
                }
                if (b3 != null) {
                    long h = (v & 0xffffffL) * AnchorTable.HASH;
                    long m = 1L << (h >>> 20) | 1L << (h >>> 26);
                    if ((b3[(int) (h >>> s3)] & m) == m && !hit(a3, v & 0xffffff, base + i)) return;
                }
                if (b2 != null) {
                    int v2 = v & 0xffff;
                    if ((b2[v2 >>> 6] >>> v2 & 1) != 0 && !hit(a2, v2, base + i)) return;
                }
            }
        }

        /** The anchor bytes {@code key} sit at {@code pos}: verify every program anchored on them. */
        private boolean hit(AnchorTable t, int key, long pos) {
            if (pos + t.length > size) return true;
            int from, to;
            if (t.direct2 != null) {
                from = t.direct2[key];
                to = t.direct2[key + 1];
            } else {
                int slot = t.find(key);
                if (slot < 0) return true;
                from = t.slots[slot + 1];
                to = t.slots[slot + 2];
            }
            int[] en = t.entries;
            for (int k = 4 * from, end = 4 * to; k < end; k += 4) {
                int prog = en[k];
                int mask = en[k + 3];
                if (mask != 0) {
                    // The confirm word: a few more fixed bytes at a known distance, tested before the verifier.
                    long at = pos + en[k + 1];
                    if (at < 0 || at + 4 > size || (data.get(LE_INT, at) & mask) != en[k + 2]) continue;
                }
                long first = pos - anchorHi[prog], last = pos - anchorLo[prog];
                if (first != last) {
                    if (tried == null) tried = new HashMap<>();
                    Long done = tried.put(prog, last);
                    if (done != null && done >= first) first = done + 1;
                }
                first = Math.max(first, 0);
                OffsetRule r = rules[prog];
                if (r != null) {
                    OffsetRule.Window w = r.window(layout);
                    if (w == null) continue;
                    first = Math.max(first, w.first());
                    last = Math.min(last, w.last());
                }
                for (long s = first; s <= last; s++) {
                    long e = verifier.matchAt(programs[prog], s);
                    if (e >= 0 && !found(prog, s, e)) return false;
                }
            }
            return true;
        }
    }
}
