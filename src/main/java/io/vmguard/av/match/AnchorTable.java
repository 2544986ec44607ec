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
    final int[] programs;    // program indices, grouped by key

    /** @param keys anchor keys, one per (program, spelling); @param owners the program of each key */
    AnchorTable(int length, int[] keys, int[] owners, int count) {
        this.length = length;
        long[] pairs = new long[count];
        for (int i = 0; i < count; i++) pairs[i] = (keys[i] & 0xffffffffL) << 32 | owners[i];
        Arrays.sort(pairs);
        programs = new int[count];
        int distinct = 0;
        for (int i = 0; i < count; i++) {
            programs[i] = (int) pairs[i];
            if (i == 0 || pairs[i] >>> 32 != pairs[i - 1] >>> 32) distinct++;
        }
        // About 40 bits per key; no more than 2^23 words (64 MiB) however many keys. Measured with 100k keys:
        // 16 and 100 bits per key were both about 10% slower than 40 (more false hits / more cache misses).
        int words = Integer.highestOneBit(Math.max(64, distinct * 40 / 64) * 2 - 1);
        words = Math.min(words, 1 << 23);
        wordShift = 64 - Integer.numberOfTrailingZeros(words);
        bloom = new long[words];
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
        return 8L * bloom.length + 4L * slots.length + 4L * programs.length + 64;
    }
}
