package io.vmguard.engine.interp.mmu;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts pages that began to hold code: a vCPU that sees it move forgets its writable translations. The code
 * cache advances it; each vCPU's {@link Mmu} reads it before its next block ({@link Mmu#seeNewCodePages}).
 */
public final class CodePageEpoch {
    private final AtomicInteger value = new AtomicInteger();
    private final Runnable advanced;

    /** @param advanced told after each advance (the VM flags every vCPU's doorbell, their compiled loops' one look) */
    public CodePageEpoch(Runnable advanced) {
        this.advanced = advanced;
    }

    int value() {
        return value.get();
    }

    public void advance() {
        value.incrementAndGet(); // a full fence: the mark is visible before the page's bytes are read
        advanced.run();
    }
}
