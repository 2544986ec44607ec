package io.vmguard.av.match;

import java.util.Arrays;

/**
 * The prefilter for anchors of one length: a bitmap over a hash of the anchor bytes (one bit test per scanned
 * byte), then an open-addressing table from the exact key to the programs that use it.
 */
final class AnchorTable {
    static final int HASH = 0x9E3779B1;

    final int length;
    final long[] bitmap;
    final int bitShift;      // bit index = (key * HASH) >>> bitShift
    final int[] slotKey;
    final int[] slotFrom;    // entries [slotFrom, slotTo) of a key; slotTo == 0 marks an empty slot
    final int[] slotTo;
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
        // About 32 bits per key keeps false hits near 3% of positions; 2-byte keys are indexed directly.
        int bits = length == 2 ? 16 : Math.max(12, Math.min(26, 64 - Long.numberOfLeadingZeros(Math.max(1, distinct) * 32L - 1)));
        bitShift = 32 - bits;
        bitmap = new long[Math.max(1, (1 << bits) >>> 6)];
        int slots = Integer.highestOneBit(Math.max(2, distinct) * 2 - 1) << 1;
        slotShift = 32 - Integer.numberOfTrailingZeros(slots);
        slotKey = new int[slots];
        slotFrom = new int[slots];
        slotTo = new int[slots];
        for (int i = 0; i < count; ) {
            int key = (int) (pairs[i] >>> 32);
            int j = i;
            while (j < count && (int) (pairs[j] >>> 32) == key) j++;
            int bit = bitIndex(key);
            bitmap[bit >>> 6] |= 1L << bit;
            int s = slot(key);
            while (slotTo[s] != 0) s = (s + 1) & (slots - 1);
            slotKey[s] = key;
            slotFrom[s] = i;
            slotTo[s] = j;
            i = j;
        }
    }

    int bitIndex(int key) {
        return length == 2 ? key : (key * HASH) >>> bitShift;
    }

    int slot(int key) {
        return (key * 0x85EBCA6B) >>> slotShift;
    }

    /** The slot holding {@code key}, or -1. */
    int find(int key) {
        int mask = slotKey.length - 1;
        for (int s = slot(key); slotTo[s] != 0; s = (s + 1) & mask) {
            if (slotKey[s] == key) return s;
        }
        return -1;
    }

    int mask() {
        return length == 4 ? -1 : (1 << (8 * length)) - 1;
    }

    long footprint() {
        return 8L * bitmap.length + 12L * slotKey.length + 4L * programs.length + 64;
    }
}
