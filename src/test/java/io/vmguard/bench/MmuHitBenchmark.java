package io.vmguard.bench;

import io.vmguard.engine.interp.mmu.LongModeMmus;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * What a TLB hit costs: the interpreter's guest memory accesses ({@link Mmu#read64}, {@link Mmu#read32},
 * {@link Mmu#write64}) on 64 pages of 4-level-paged RAM, beside the same accesses made directly on the RAM
 * segment at the physical addresses (no translation: the floor). Prints nanoseconds per access for both, best
 * of the rounds, and their ratio.
 *
 * <p>{@code java --enable-native-access=ALL-UNNAMED -cp ... io.vmguard.bench.MmuHitBenchmark [ROUNDS]} (see
 * scripts/bench-mmu).
 */
public final class MmuHitBenchmark {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int ITERATIONS = 20_000_000;
    private static final int ACCESSES_PER_ITERATION = 4;
    /** The working set: 256 KiB at linear 4 MiB, mapped 1:1 by 2 MiB pages (so linear is physical). */
    private static final long BASE = 4L << 20, SPAN_MASK = 0x3fff8;

    private MmuHitBenchmark() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 64L << 20)))) {
            Mmu mmu = pagedMmu(memory);
            MemorySegment ram = memory.regions().getFirst().backing();
            long mmuBest = Long.MAX_VALUE, rawBest = Long.MAX_VALUE, sink = 0;
            for (int round = 0; round < rounds; round++) {
                long start = System.nanoTime();
                sink += throughMmu(mmu);
                mmuBest = Math.min(mmuBest, System.nanoTime() - start);
                start = System.nanoTime();
                sink += direct(ram);
                rawBest = Math.min(rawBest, System.nanoTime() - start);
            }
            double accesses = (double) ITERATIONS * ACCESSES_PER_ITERATION;
            System.out.printf("TLB hit through Mmu: %.2f ns/access; direct on the RAM segment: %.2f ns/access;"
                    + " ratio %.2f (best of %d, checksum %d)%n",
                    mmuBest / accesses, rawBest / accesses, (double) mmuBest / rawBest, rounds, sink & 0xff);
        }
    }

    /** 4-level paging, the first 64 MiB mapped 1:1 with 2 MiB pages, tables at 0x1000-0x3fff. */
    private static Mmu pagedMmu(GuestMemory memory) {
        memory.slice(0x1000, 8).set(U64, 0, 0x2000 | 0x7);
        memory.slice(0x2000, 8).set(U64, 0, 0x3000 | 0x7);
        for (int i = 0; i < 32; i++) {
            memory.slice(0x3000 + 8L * i, 8).set(U64, 0, ((long) i << 21) | 0x87);
        }
        return LongModeMmus.over(memory, 0x1000, 0, LongModeMmus.RAM_ONLY);
    }

    // The same pseudo-random mix in both: two 8-byte loads, one 4-byte load, one 8-byte store per iteration.

    private static long throughMmu(Mmu mmu) {
        long sum = 0, x = 12345;
        for (int i = 0; i < ITERATIONS; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            long a = BASE + ((x >>> 40) & SPAN_MASK);
            sum += mmu.read64(a);
            sum += mmu.read32(BASE + ((x >>> 20) & (SPAN_MASK | 4)));
            mmu.write64(a ^ 8, sum);
            sum ^= mmu.read64(BASE + 0x100 + (i & 0xf8));
        }
        return sum;
    }

    private static long direct(MemorySegment ram) {
        long sum = 0, x = 12345;
        for (int i = 0; i < ITERATIONS; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            long a = BASE + ((x >>> 40) & SPAN_MASK);
            sum += ram.get(U64, a);
            sum += ram.get(U32, BASE + ((x >>> 20) & (SPAN_MASK | 4)));
            ram.set(U64, a ^ 8, sum);
            sum ^= ram.get(U64, BASE + 0x100 + (i & 0xf8));
        }
        return sum;
    }
}
