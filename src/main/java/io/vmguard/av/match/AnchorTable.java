package io.vmguard.av.match;

import java.util.Arrays;

/**
 * The prefilter for anchors of one length. Per scanned byte: one 64-bit word of a blocked Bloom filter, chosen
 * and tested (two bits) by a 64-bit multiplicative hash of the anchor bytes, so that about 0.5% of positions
 * without an anchor get past it. Survivors look the exact key up in an open-addressing table whose slots
 * (key, first, end) share a cache line, giving the programs anchored on that key.
 */
final class AnchorTable {
    static final long HASH = 0x9E3779B97F4A7C15L;

    final int length;
    final long[] bloom;
    final int wordShift;     // word = hash >>> wordShift
    final int[] slots;       // 4 ints a slot: key, first entry, end entry (0: empty), unused
    final int slotShift;
    final int[] entries;     // 4 ints an entry, grouped by key: program, confirm offset, value, mask
    final long[] bits2;      // 2-byte anchors: a plain bitmap over the 65536 keys (8 KiB, stays in L1)
    final int[] direct2;     // 2-byte anchors: entries of key k are [direct2[k], direct2[k + 1])

    /**
     * @param keys anchor keys, one per (program, spelling); @param owners the program of each key;
     * @param confirm per program: its confirm word as {offset, value, mask}
     */
    AnchorTable(int length, int[] keys, int[] owners, int count, int[][] confirm) {
        this.length = length;
        long[] pairs = new long[count];
        for (int i = 0; i < count; i++) pairs[i] = (keys[i] & 0xffffffffL) << 32 | owners[i];
        Arrays.sort(pairs);
        entries = new int[4 * count];
        int distinct = 0;
        for (int i = 0; i < count; i++) {
            int prog = (int) pairs[i];
            entries[4 * i] = prog;
            entries[4 * i + 1] = confirm[prog][0];
            entries[4 * i + 2] = confirm[prog][1];
            entries[4 * i + 3] = confirm[prog][2];
            if (i == 0 || pairs[i] >>> 32 != pairs[i - 1] >>> 32) distinct++;
        }
        // About 40 bits per key; no more than 2^23 words (64 MiB) however many keys. Measured with 100k keys:
        // 16 and 100 bits per key were both about 10% slower than 40 (more false hits / more cache misses).
        int words = Integer.highestOneBit(Math.max(64, distinct * 40 / 64) * 2 - 1);
        words = Math.min(words, 1 << 23);
        wordShift = 64 - Integer.numberOfTrailingZeros(words);
        bloom = new long[words];
        if (length == 2) {
            bits2 = new long[1024];
            direct2 = new int[65537];
            for (int i = 0; i < count; i++) {
                int key = (int) (pairs[i] >>> 32);
                bits2[key >>> 6] |= 1L << key;
                direct2[key + 1]++;
            }
            for (int k = 0; k < 65536; k++) direct2[k + 1] += direct2[k];
        } else {
            bits2 = null;
            direct2 = null;
        }
        int nslots = Integer.highestOneBit(Math.max(2, distinct) * 2 - 1) << 1;
        slotShift = 64 - Integer.numberOfTrailingZeros(nslots);
        slots = new int[4 * nslots];
        for (int i = 0; i < count; ) {
            int key = (int) (pairs[i] >>> 32);
            int j = i;
            while (j < count && (int) (pairs[j] >>> 32) == key) j++;
            long h = hash(key);
            bloom[(int) (h >>> wordShift)] |= 1L << (h >>> 20) | 1L << (h >>> 26);
            int s = (int) (h * 0x2545F4914F6CDD1DL >>> slotShift);
            while (slots[4 * s + 2] != 0) s = (s + 1) & (nslots - 1);
            slots[4 * s] = key;
            slots[4 * s + 1] = i;
            slots[4 * s + 2] = j;
            i = j;
        }
    }

    static long hash(int key) {
        return (key & 0xffffffffL) * HASH;
    }

    /** The slot (index of its first int) holding {@code key}, or -1. */
    int find(int key) {
        int mask = slots.length / 4 - 1;
        for (int s = (int) (hash(key) * 0x2545F4914F6CDD1DL >>> slotShift); slots[4 * s + 2] != 0; s = (s + 1) & mask) {
            if (slots[4 * s] == key) return 4 * s;
        }
        return -1;
    }

    long footprint() {
        return 8L * bloom.length + 4L * slots.length + 4L * entries.length + 64;
    }
}
