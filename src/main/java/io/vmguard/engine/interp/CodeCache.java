package io.vmguard.engine.interp;

import java.util.Arrays;

/**
 * Decoded {@link Block}s, cached per physical RAM page by the offset they start at, and dropped when the
 * page is written: decoding happens once per instruction, not once per execution. A block never leaves
 * its page, so a write to one page is all that can make a block stale.
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
    private final Block[][] pages;
    private final Runnable onNewCodePage;
    private long invalidations;

    /** {@code onNewCodePage} runs when a page first holds code (the MMU must stop caching writes to it). */
    CodeCache(long physicalEnd, Runnable onNewCodePage) {
        this.pages = new Block[(int) ((physicalEnd + 4095) >>> 12)][];
        this.onNewCodePage = onNewCodePage;
    }

    Block get(long physical) {
        long page = physical >>> 12;
        if (page >= pages.length) {
            return null;
        }
        Block[] blocks = pages[(int) page];
        return blocks == null ? null : blocks[(int) (physical & 0xfff)];
    }

    void put(long physical, Block block) {
        Block[] blocks = hold(physical);
        if (blocks != null) {
            blocks[(int) (physical & 0xfff)] = block;
        }
    }

    /**
     * Marks a RAM page as holding code before any block of it is cached (its code was approved, but the
     * instruction that asked cannot be cached: it straddles two pages), so that writes to it are seen.
     */
    void approve(long physicalPage) {
        hold(physicalPage);
    }

    private Block[] hold(long physical) {
        long page = physical >>> 12;
        if (page >= pages.length) {
            return null;
        }
        Block[] blocks = pages[(int) page];
        if (blocks == null) {
            blocks = new Block[4096];
            pages[(int) page] = blocks;
            onNewCodePage.run();
        }
        return blocks;
    }

    boolean holdsCode(long physicalPage) {
        long page = physicalPage >>> 12;
        return page < pages.length && pages[(int) page] != null;
    }

    void invalidate(long physicalPage) {
        long page = physicalPage >>> 12;
        if (page < pages.length && pages[(int) page] != null) {
            pages[(int) page] = null;
            invalidations++;
        }
    }

    /** Drops every block: the state they were decoded for is gone (a snapshot was restored). */
    void clear() {
        Arrays.fill(pages, null);
    }

    long invalidations() {
        return invalidations;
    }
}
