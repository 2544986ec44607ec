package io.vmguard.engine.interp;

import io.vmguard.engine.interp.decode.Decoder;
import io.vmguard.engine.interp.mmu.Mmu;

/**
 * Instructions whose bytes run from the end of one page into the next, decoded once per vCPU instead of at every
 * execution. The code cache holds blocks of one page, so such an instruction was decoded through the MMU each time it
 * ran: in our kernel's boot to the ready marker 63,000 times (30,000 of them one ADD in btf_struct_check_meta's loop,
 * 10,000 two in blake2s_compress_generic), about 5 % of the vCPU's time (docs/benchmarks.md, #session13-tier).
 *
 * <p>Both pages are marked as holding code ({@link CodeCache#prepare}) before the bytes are read, so a write to either,
 * by any vCPU or a device, moves that page's generation. An entry is used only while both generations are the ones it
 * was decoded under, the second page still translates to the same frame for this vCPU (through the fetch TLB: a fault
 * there is the one decoding would raise), and the code is 64-bit. Entries are never compiled: the JIT's regions and
 * chaining take blocks from the code cache's pages, where these are not. While code executions are armed the vCPU
 * does not look here ({@link InterpVcpu}'s gated fetch asks about each frame).
 */
final class StraddlingInstructions {
    private static final int SLOTS = 64;

    private record Entry(long physical, long secondPage, int generation, int secondGeneration, Block block) {}

    private final Entry[] entries = new Entry[SLOTS];
    private final Mmu mmu;
    private final CodeCache code;
    private final Decoder decoder;

    StraddlingInstructions(Mmu mmu, CodeCache code, Decoder decoder) {
        this.mmu = mmu;
        this.code = code;
        this.decoder = decoder;
    }

    /** The block of the straddling instruction at {@code linear} (its first byte at {@code physical}), or null. */
    Block find(long linear, long physical, int bits) {
        Entry entry = entries[slot(physical)];
        if (entry == null || entry.physical != physical || bits != 64 || code.generation(physical) != entry.generation
                || code.generation(entry.secondPage) != entry.secondGeneration) {
            return null;
        }
        return mmu.fetchPhysical(secondPage(linear)) == entry.secondPage ? entry.block : null;
    }

    /**
     * Decodes the instruction at {@code linear} that runs past its page's end, and keeps it where both pages are RAM.
     * {@code generation}: of the first page, taken before its bytes were read (-1 when it is not cached).
     */
    Block decode(long linear, long physical, int generation, int bits) {
        // The second page's translation faults here exactly as the decoder's fetch of its first byte would.
        long second = bits == 64 && generation >= 0 ? mmu.fetchPhysical(secondPage(linear)) : -1;
        int secondGeneration = second >= 0 ? code.prepare(second) : -1;
        Block block = Block.single(decoder.decode(linear, bits));
        if (secondGeneration >= 0) {
            block.jitState = JitBridge.NEVER;
            entries[slot(physical)] = new Entry(physical, second, generation, secondGeneration, block);
        }
        return block;
    }

    private static long secondPage(long linear) {
        return (linear & Mmu.PAGE_MASK) + 4096;
    }

    private static int slot(long physical) {
        return (int) ((physical >>> 12) & (SLOTS - 1));
    }
}
