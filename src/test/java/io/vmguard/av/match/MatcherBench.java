package io.vmguard.av.match;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Throughput of MultiMatcher on the sets: 100k random 16-byte literal signatures and 100k random wildcard
 * signatures (13 syntax kinds in turn), over 64 MB of random bytes and 64 MB of concatenated /usr/lib ELF files.
 * Not a test: run with {@code java -cp target/classes:target/test-classes io.vmguard.av.match.MatcherBench [MB]}.
 */
public final class MatcherBench {
    public static void main(String[] args) throws Exception {
        int mb = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int count = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        if (Boolean.getBoolean("sample")) sampler(Thread.currentThread());
        MemorySegment random = randomCorpus(mb);
        MemorySegment elf = elfCorpus(mb);
        for (String set : new String[] {"literal", "wildcard"}) {
            String ndb = System.getProperty(set + ".ndb");   // e.g. -Dwildcard.ndb=FILE: the body field of each line
            List<String> sigs = ndb != null ? Files.readAllLines(Path.of(ndb)).stream().filter(l -> !l.isBlank())
                            .map(l -> l.split(":")[3]).toList()
                    : set.equals("literal") ? literals(count, new Random(1)) : wildcards(count, new Random(2));
            System.gc();
            long heap0 = usedHeap();
            var threads = java.lang.management.ManagementFactory.getThreadMXBean();
            long cpu0 = threads.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            List<BodyPattern> parsed = new ArrayList<>();
            for (String s : sigs) parsed.add(BodyPattern.parse(s));
            long t1 = System.nanoTime();
            System.gc();
            System.out.printf("  %d parsed patterns hold %.1f MB%n", parsed.size(), (usedHeap() - heap0) / 1e6);
            t1 = System.nanoTime();
            MultiMatcher.Builder b = MultiMatcher.builder();
            for (BodyPattern p : parsed) b.add(p, OffsetRule.ANY, PatternOptions.NONE);
            long t2 = System.nanoTime();
            MultiMatcher m = b.build();
            double build = (System.nanoTime() - t0) / 1e9;
            double buildCpu = (threads.getCurrentThreadCpuTime() - cpu0) / 1e9;
            parsed = null;
            System.out.printf("  parse %.2f s, add %.2f s, build %.2f s%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9, (System.nanoTime() - t2) / 1e9);
            System.gc();
            long heap = usedHeap() - heap0;
            System.out.printf("%s: %d sigs, parse+build %.2f s (%.2f s CPU, GC excluded), footprint %.1f MB, heap %.1f MB%n",
                    set, sigs.size(), build, buildCpu,
                    m.footprintBytes() / 1e6, heap / 1e6);
            System.out.println("  " + m.describe());
            for (var corpus : List.of(java.util.Map.entry("random", random), java.util.Map.entry("elf", elf))) {
                scan(m, corpus.getValue()); // warm up
                long best = Long.MAX_VALUE, bestCpu = Long.MAX_VALUE, hits = 0;
                var mx = java.lang.management.ManagementFactory.getThreadMXBean();
                for (int i = 0; i < 3; i++) {
                    long[] n = {0};
                    long t = System.nanoTime(), c = mx.getCurrentThreadCpuTime();
                    m.scan(corpus.getValue(), FileLayout.raw(corpus.getValue().byteSize()), (id, s, e) -> { n[0]++; return true; });
                    best = Math.min(best, System.nanoTime() - t);
                    bestCpu = Math.min(bestCpu, mx.getCurrentThreadCpuTime() - c);
                    hits = n[0];
                }
                double mbs = corpus.getValue().byteSize() / 1e6;
                // The machine is shared: CPU time says what the scan costs, wall time what it got.
                System.out.printf("  %-7s %7.1f MB/s per CPU second, %7.1f MB/s wall  (%d matches)%n", corpus.getKey(),
                        mbs / (bestCpu / 1e9), mbs / (best / 1e9), hits);
            }
            {
                // Runtime scanning sees 4 KiB pages: the per-scan overhead shows here.
                MemorySegment d = elf;
                long c = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
                for (long off = 0; off + 4096 <= d.byteSize(); off += 4096) scan(m, d.asSlice(off, 4096));
                c = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - c;
                System.out.printf("  elf in 4 KiB pages %7.1f MB/s per CPU second%n", d.byteSize() / 1e6 / (c / 1e9));
            }
        }
    }

    /** A poor man's profiler: the top frames of the main thread, counted every 2 ms, printed at exit. */
    private static void sampler(Thread main) {
        java.util.Map<String, Integer> counts = new java.util.concurrent.ConcurrentHashMap<>();
        Thread t = new Thread(() -> {
            while (true) {
                StackTraceElement[] st = main.getStackTrace();
                if (st.length > 0) {
                    String k = st[0] + (st.length > 1 ? " <- " + st[1] : "") + (st.length > 2 ? " <- " + st[2] : "");
                    counts.merge(k, 1, Integer::sum);
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        t.setDaemon(true);
        t.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> counts.entrySet().stream()
                .sorted((a, b) -> b.getValue() - a.getValue()).limit(15)
                .forEach(e -> System.out.println(e.getValue() + " " + e.getKey()))));
    }

    private static long usedHeap() {
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }

    private static void scan(MultiMatcher m, MemorySegment d) {
        m.scan(d, FileLayout.raw(d.byteSize()), (id, s, e) -> true);
    }

    static MemorySegment randomCorpus(int mb) {
        byte[] d = new byte[mb << 20];
        new Random(42).nextBytes(d);
        MemorySegment seg = Arena.global().allocate(d.length);
        MemorySegment.copy(d, 0, seg, ValueLayout.JAVA_BYTE, 0, d.length);
        return seg;
    }

    static MemorySegment elfCorpus(int mb) throws IOException {
        long want = (long) mb << 20;
        MemorySegment seg = Arena.global().allocate(want);
        long at = 0;
        List<Path> files;
        try (Stream<Path> s = Files.walk(Path.of("/usr/lib"))) {
            files = s.filter(Files::isRegularFile).filter(p -> !Files.isSymbolicLink(p)).sorted().toList();
        }
        for (Path p : files) {
            if (at >= want) break;
            try {
                if (Files.size(p) < 64 || Files.size(p) > 64 << 20) continue;
                byte[] d = Files.readAllBytes(p);
                if (d[0] != 0x7f || d[1] != 'E' || d[2] != 'L' || d[3] != 'F') continue;
                int n = (int) Math.min(d.length, want - at);
                MemorySegment.copy(d, 0, seg, ValueLayout.JAVA_BYTE, at, n);
                at += n;
            } catch (IOException | RuntimeException e) {
                // unreadable: skip
            }
        }
        return seg.asSlice(0, at);
    }

    static String hex(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    static List<String> literals(int n, Random r) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(hex(r, 16));
        return out;
    }

    /** Random signatures cycling through 13 kinds, each part starting with static bytes (as ClamAV requires). */
    static List<String> wildcards(int n, Random r) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String a = hex(r, 4 + r.nextInt(5)), b = hex(r, 4 + r.nextInt(5));
            out.add(switch (i % 13) {
                case 0 -> a + b;
                case 1 -> a + "??" + b;
                case 2 -> a + hex(r, 1).charAt(0) + "?" + b;
                case 3 -> a + "{" + r.nextInt(10) + "-" + (10 + r.nextInt(40)) + "}" + b;
                case 4 -> a + "{-" + (1 + r.nextInt(30)) + "}" + b;
                case 5 -> a + "{" + r.nextInt(30) + "-}" + b;
                case 6 -> a + "*" + b;
                case 7 -> a + "(" + hex(r, 1) + "|" + hex(r, 1) + "|" + hex(r, 1) + ")" + b;
                case 8 -> a + "(" + hex(r, 2) + "|" + hex(r, 2) + ")" + b;
                case 9 -> a + "!(" + hex(r, 1) + "|" + hex(r, 1) + ")" + b;
                case 10 -> hex(r, 1) + "[" + r.nextInt(3) + "-" + (3 + r.nextInt(10)) + "]" + a + b;
                case 11 -> a + "{" + (128 + r.nextInt(400)) + "}" + b;
                default -> a + "{" + (1 + r.nextInt(100)) + "}" + b;
            });
        }
        return out;
    }
}
