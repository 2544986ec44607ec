package io.vmguard.vmi.integrity;

import java.util.BitSet;
import java.util.Map;

/**
 * The guest-physical frames whose writes are integrity violations, each with what it holds and the kernel
 * virtual address it is mapped at (writes arrive by physical address, often through an alias mapping; reports
 * name the kernel's own address and symbol).
 */
public record WatchedRegions(Map<Long, Frame> frames) {
    public WatchedRegions {
        frames = Map.copyOf(frames);
    }

    /** @param check the finding's check: "kernel-text", "kernel-rodata", "idt" */
    public record Frame(String check, long virtualAddress) {}

    public BitSet frameSet() {
        BitSet set = new BitSet();
        frames.keySet().forEach(frame -> set.set(Math.toIntExact(frame)));
        return set;
    }
}
