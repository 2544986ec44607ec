package io.vmguard.av.match;

import static io.vmguard.av.match.Scans.*;
import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The scan itself: chunk edges, file edges, native memory, stopping, ids, many patterns, parallel scans. */
class MultiMatcherScanTest {
    private static final int CHUNK = 1 << 18; // MultiMatcher's chunk size

    private static MultiMatcher matcher(String... sigs) throws PatternSyntaxException {
        MultiMatcher.Builder b = MultiMatcher.builder();
        for (String s : sigs) b.add(BodyPattern.parse(s), OffsetRule.ANY, PatternOptions.NONE);
        return b.build();
    }

    private static List<String> scan(MultiMatcher m, byte[] d) {
        List<String> out = new ArrayList<>();
        m.scan(MemorySegment.ofArray(d), FileLayout.raw(d.length), (id, s, e) -> out.add(id + "@" + s + "-" + e));
        Collections.sort(out);
        return out;
    }

    @Test
    void matchesAcrossChunkEdgesAndAtTheEndOfTheData() throws Exception {
        // 2-, 3- and 4-byte anchors, a pattern whose anchor is its tail, and a chained one
        MultiMatcher m = matcher("6162", "616263", "6162636465", "????6162", "6162*6364");
        for (int at : new int[] {0, CHUNK - 5, CHUNK - 4, CHUNK - 3, CHUNK - 2, CHUNK - 1, CHUNK, 2 * CHUNK - 2}) {
            byte[] d = new byte[2 * CHUNK + 7];
            java.util.Arrays.fill(d, (byte) 'x');
            byte[] abcde = ascii("abcde");
            System.arraycopy(abcde, 0, d, at, abcde.length);
            List<String> got = scan(m, d);
            assertTrue(got.contains("0@" + at + "-" + (at + 2)), at + " " + got);
            assertTrue(got.contains("1@" + at + "-" + (at + 3)), at + " " + got);
            assertTrue(got.contains("2@" + at + "-" + (at + 5)), at + " " + got);
            assertEquals(at >= 2, got.contains("3@" + (at - 2) + "-" + (at + 2)), at + " " + got);
            assertTrue(got.contains("4@" + at + "-" + (at + 4)), at + " " + got);
        }
        byte[] tail = ascii("xxxxabcde");
        assertEquals(List.of("0@4-6", "1@4-7", "2@4-9", "3@2-6", "4@4-8"), scan(m, tail));
        assertEquals(List.of("0@0-2"), scan(m, ascii("ab")));
        assertEquals(List.of(), scan(m, ascii("a")));
        assertEquals(List.of(), scan(m, new byte[0]));
    }

    @Test
    void scansNativeMemory() throws Exception {
        MultiMatcher m = matcher("deadbeef", "de??beef");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(10_000);
            seg.set(ValueLayout.JAVA_INT_UNALIGNED, 4321, 0xefbeadde);
            List<String> out = new ArrayList<>();
            m.scan(seg, FileLayout.raw(seg.byteSize()), (id, s, e) -> out.add(id + "@" + s));
            Collections.sort(out);
            assertEquals(List.of("0@4321", "1@4321"), out);
            out.clear();
            m.scan(seg.asSlice(4000, 1000), FileLayout.raw(1000), (id, s, e) -> out.add(id + "@" + s));
            assertEquals(List.of("0@321", "1@321"), out.stream().sorted().toList(), "offsets are relative to the segment");
        }
    }

    @Test
    void theSinkStopsTheScan() throws Exception {
        MultiMatcher m = matcher("6162", "6364*6566");
        byte[] d = ascii("ab ab ab cd ef ab");
        int[] calls = {0};
        m.scan(MemorySegment.ofArray(d), FileLayout.raw(d.length), (id, s, e) -> ++calls[0] < 2);
        assertEquals(2, calls[0]);
    }

    @Test
    void idsFollowTheOrderOfAddingAndCountPatternsNotVariants() throws Exception {
        MultiMatcher.Builder b = MultiMatcher.builder();
        assertEquals(0, b.add(BodyPattern.parse("6162"), OffsetRule.ANY, new PatternOptions(false, true, false, true)));
        assertEquals(1, b.add(BodyPattern.parse("6364*6566"), OffsetRule.ANY, PatternOptions.NONE));
        MultiMatcher m = b.build();
        assertEquals(2, m.size());
        assertTrue(m.footprintBytes() > 0);
        assertEquals(List.of("0@0-2", "0@3-7"), scan(m, ascii("ab\0a\0b\0")));
    }

    @Test
    void thousandsOfPatternsFindExactlyThePlantedOnes() throws Exception {
        Random r = new Random(7);
        List<String> sigs = MatcherBench.wildcards(5000, r);
        sigs.addAll(MatcherBench.literals(5000, r));
        MultiMatcher.Builder b = MultiMatcher.builder();
        for (String s : sigs) b.add(BodyPattern.parse(s), OffsetRule.ANY, PatternOptions.NONE);
        MultiMatcher m = b.build();
        byte[] d = new byte[1 << 20];
        r.nextBytes(d);
        // Plant literal signatures (ids 5000..) at known places; random data holds none of the others.
        List<String> want = new ArrayList<>();
        for (int k = 0; k < 50; k++) {
            int id = 5000 + r.nextInt(5000);
            byte[] lit = java.util.HexFormat.of().parseHex(sigs.get(id));
            int at = r.nextInt(d.length - 16);
            System.arraycopy(lit, 0, d, at, 16);
            want.add(id + "@" + at + "-" + (at + 16));
        }
        List<String> got = scan(m, d);
        for (String w : want) {
            int at = Integer.parseInt(w.substring(w.indexOf('@') + 1, w.indexOf('-')));
            boolean overwritten = want.stream().anyMatch(o -> {
                int a = Integer.parseInt(o.substring(o.indexOf('@') + 1, o.indexOf('-')));
                return a > at && a < at + 16;
            });
            if (!overwritten) assertTrue(got.contains(w), w);
        }
        assertTrue(got.size() <= want.size() + 1, "unexpected matches: " + got);
    }

    @Test
    void parallelScansOfOneMatcherAgree() throws Exception {
        MultiMatcher m = matcher("6162*6364", "61626364", "(B)6162??64", "6162{2-4}6566");
        Random r = new Random(3);
        byte[][] inputs = new byte[8][];
        byte[] alphabet = ascii("abcdef -");
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = new byte[200_000];
            for (int j = 0; j < inputs[i].length; j++) inputs[i][j] = alphabet[r.nextInt(alphabet.length)];
        }
        List<List<String>> alone = new ArrayList<>();
        for (byte[] in : inputs) alone.add(scan(m, in));
        try (ExecutorService ex = Executors.newFixedThreadPool(4)) {
            List<Future<List<String>>> fs = new ArrayList<>();
            for (int round = 0; round < 3; round++) for (byte[] in : inputs) fs.add(ex.submit(() -> scan(m, in)));
            for (int i = 0; i < fs.size(); i++) assertEquals(alone.get(i % inputs.length), fs.get(i).get());
        }
        assertFalse(alone.get(0).isEmpty());
    }
}
