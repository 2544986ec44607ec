package io.vmguard.engine.interp;

import io.vmguard.engine.interp.mmu.CodePageEpoch;
import io.vmguard.engine.interp.mmu.Mmu;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Decoded {@link Block}s, cached per physical RAM page by the offset they start at, and dropped when the
 * page is written: decoding happens once per instruction, not once per execution. A block never leaves
 * its page, so a write to one page is all that can make a block stale.
 *
 * <p><b>Shared by the VM's vCPUs.</b> A page decoded on one vCPU runs from the cache on every other, and a
 * write by any of them drops it for all: the next block any vCPU starts there is decoded again. A vCPU may
 * finish a block it started before the write, as a CPU may run stale prefetched code until it serialises
 * (the SDM's rule for cross-modifying code). Three things keep that true with vCPUs on several threads:
 * <ul>
 *   <li>a page is marked as holding code ({@link #prepare}) before its bytes are decoded, and the
 *       {@link CodePageEpoch} moves, so every vCPU's MMU drops cached writable translations (which skip the "holds code"
 *       check) before its next block ({@link Mmu#seeNewCodePages});</li>
 *   <li>each page has a generation that every drop increments; a block decoded under an older generation is
 *       not kept ({@link #put}), so a write that lands while another vCPU decodes is never lost;</li>
 *   <li>blocks are immutable once built (final fields), so publishing one through the page array is safe.</li>
 * </ul>
 * What remains: a write another vCPU makes through a translation it cached before the page became code, within
 * the block it had under way when that happened, is not seen; such a write races with the page's very first
 * execution, which no correct program does without synchronising afterwards (and any later write to the page
 * drops the block).
 *
 * <p>A block records the mode it was decoded for ({@link Block#codeBits}: 16-, 32- or 64-bit code); the vCPU
 * takes a block of another mode for a miss and decodes it again, replacing it. The cache is keyed by mode
 * rather than dropped on mode changes: those come with every far jump, IRET and system call between a
 * 64-bit kernel and 32-bit programs, and with several vCPUs one may run a real-mode trampoline while the
 * others run 64-bit code.
 *
 * <p>While code executions are armed, a page that holds code (even none yet, see {@link #approve}) is one the
 * listener let run since its last write: dropping a page drops its approval with its blocks.
 */
final class CodeCache {
    private static final VarHandle PAGES = MethodHandles.arrayElementVarHandle(Block[][].class);

    private final Block[][] pages;
    private final AtomicIntegerArray generations;
    private final CodePageEpoch epoch;
    private final AtomicInteger invalidations = new AtomicInteger();

    /** @param codePagesAdded told when a page newly holds code (see {@link CodePageEpoch}) */
    CodeCache(long physicalEnd, Runnable codePagesAdded) {
        this.epoch = new CodePageEpoch(codePagesAdded);
        int count = (int) ((physicalEnd + 4095) >>> 12);
        this.pages = new Block[count][];
        this.generations = new AtomicIntegerArray(count);
    }

    CodePageEpoch epoch() {
        return epoch;
    }

    Block get(long physical) {
        long page = physical >>> 12;
        if (page >= pages.length) {
            return null;
        }
        Block[] blocks = blocks(page);
        return blocks == null ? null : blocks[(int) (physical & 0xfff)];
    }

    /**
     * The blocks of the page holding {@code physical}, by offset (read only: the JIT's region gathering), or null.
     * Blocks found in one such array were decoded from the same bytes: a write drops the whole array.
     */
    Block[] pageOf(long physical) {
        long page = physical >>> 12;
        return page < pages.length ? blocks(page) : null;
    }

    /** The page's blocks, read so that another vCPU's drop is seen at the next look (never hoisted out of a loop). */
    private Block[] blocks(long page) {
        return (Block[]) PAGES.getAcquire(pages, (int) page);
    }

    /**
     * Marks the page of {@code physical} as holding code before its bytes are decoded, and returns its
     * generation, which {@link #put} checks: -1 for a page beyond RAM (nothing is cached there).
     */
    int prepare(long physical) {
        long page = physical >>> 12;
        if (page >= pages.length) {
            return -1;
        }
        hold(page);
        return generations.get((int) page);
    }

    /** The generation of {@code physical}'s page, as {@link #prepare} returns it, without marking the page; -1 beyond RAM. */
    int generation(long physical) {
        long page = physical >>> 12;
        return page < pages.length ? generations.get((int) page) : -1;
    }

    /**
     * Caches a block decoded from the page after {@link #prepare} returned {@code generation}; a block decoded
     * while the page was written (its generation moved) is dropped instead.
     */
    void put(long physical, Block block, int generation) {
        long page = physical >>> 12;
        if (generation < 0 || page >= pages.length) {
            return;
        }
        Block[] blocks = hold(page);
        blocks[(int) (physical & 0xfff)] = block;
        if (generations.get((int) page) != generation) {
            invalidate(page << 12); // a write landed meanwhile: what was decoded may be stale
        }
    }

    /**
     * Marks a RAM page as holding code before any block of it is cached (its code was approved, but the
     * instruction that asked cannot be cached: it straddles two pages), so that writes to it are seen.
     */
    void approve(long physicalPage) {
        long page = physicalPage >>> 12;
        if (page < pages.length) {
            hold(page);
        }
    }

    private Block[] hold(long page) {
        Block[] blocks = blocks(page);
        if (blocks != null) {
            return blocks;
        }
        Block[] fresh = new Block[4096];
        Block[] raced = (Block[]) PAGES.compareAndExchange(pages, (int) page, (Block[]) null, fresh);
        if (raced != null) {
            return raced; // another vCPU marked it first
        }
        epoch.advance();
        return fresh;
    }

    boolean holdsCode(long physicalPage) {
        long page = physicalPage >>> 12;
        return page < pages.length && blocks(page) != null;
    }

    /** Drops the page's blocks (and approval) for every vCPU; any thread. */
    void invalidate(long physicalPage) {
        long page = physicalPage >>> 12;
        if (page < pages.length && blocks(page) != null) {
            generations.incrementAndGet((int) page); // before the drop: a decode under way sees one or the other
            PAGES.setRelease(pages, (int) page, (Block[]) null);
            invalidations.incrementAndGet();
        }
    }

    /** Drops every block: the state they were decoded for is gone (a snapshot was restored, code executions armed). */
    void clear() {
        for (int page = 0; page < pages.length; page++) {
            if (blocks(page) != null) {
                invalidate((long) page << 12);
            }
        }
    }

    long invalidations() {
        return invalidations.get();
    }
}
