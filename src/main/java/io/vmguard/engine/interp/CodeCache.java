package io.vmguard.engine.interp;

/**
 * Decoded instructions, cached per physical RAM page and dropped when the page is written: decoding
 * happens once per instruction, not once per execution. Instructions that straddle a page boundary are
 * not cached (their second page could change or be remapped unseen).
 */
final class CodeCache {
    private final Instruction[][] pages;
    private final Runnable onNewCodePage;
    private long invalidations;

    /** {@code onNewCodePage} runs when a page first holds code (the MMU must stop caching writes to it). */
    CodeCache(long physicalEnd, Runnable onNewCodePage) {
        this.pages = new Instruction[(int) ((physicalEnd + 4095) >>> 12)][];
        this.onNewCodePage = onNewCodePage;
    }

    Instruction get(long physical) {
        long page = physical >>> 12;
        if (page >= pages.length) {
            return null;
        }
        Instruction[] decoded = pages[(int) page];
        return decoded == null ? null : decoded[(int) (physical & 0xfff)];
    }

    void put(long physical, Instruction insn) {
        if ((physical & 0xfff) + insn.length > 4096) {
            return;
        }
        int page = (int) (physical >>> 12);
        if (page >= pages.length) {
            return;
        }
        if (pages[page] == null) {
            pages[page] = new Instruction[4096];
            onNewCodePage.run();
        }
        pages[page][(int) (physical & 0xfff)] = insn;
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

    long invalidations() {
        return invalidations;
    }
}
