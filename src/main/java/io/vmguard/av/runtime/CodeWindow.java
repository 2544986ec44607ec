package io.vmguard.av.runtime;

import io.vmguard.av.Detection;
import io.vmguard.av.Scanner;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.PhysicalMemory;
import io.vmguard.vmi.Translation;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The bytes a frame is scanned in: the 4 KiB frame itself, with the page before and the page after it in the
 * same virtual mapping when they too are mapped executable with the same privilege, so that a signature that
 * straddles a page boundary is still whole. Reads guest memory directly (the vCPU waits while it is built).
 */
final class CodeWindow {
    static final int PAGE = 4096;
    private static final long ROOT_MASK = 0x000f_ffff_ffff_f000L;

    /** Up to three pages: [previous][frame][next]; {@link #frameStart} says where the frame begins. */
    final byte[] bytes = new byte[3 * PAGE];
    int length;
    int frameStart;
    /** The guest-virtual address of the frame's first byte, when {@link #virtualKnown}. */
    long virtualPage;
    /** Whether the frame was found in the page tables (kernel addresses are negative: no sentinel value). */
    boolean virtualKnown;

    /**
     * Fills the window for the frame at guest-physical {@code frame}, fetched at {@code rip} under {@code cr3};
     * false when the frame itself cannot be read (not RAM).
     */
    boolean fill(PhysicalMemory memory, long frame, long rip, long cr3, boolean fiveLevelPaging) {
        length = 0;
        frameStart = 0;
        virtualPage = 0;
        virtualKnown = false;
        Optional<PageTableWalker> walker = cr3 == 0 ? Optional.empty()
                : Optional.of(new PageTableWalker(memory, cr3 & ROOT_MASK, fiveLevelPaging));
        Optional<Translation> here = Optional.empty();
        if (walker.isPresent()) {
            // The instruction may straddle into the frame from the page before it: try both pages of RIP.
            long ripPage = rip & ~(PAGE - 1L);
            for (long page : new long[] {ripPage, ripPage + PAGE}) {
                Optional<Translation> candidate = walker.get().translate(page);
                if (candidate.isPresent() && (candidate.get().physicalAddress() & ~(PAGE - 1L)) == frame) {
                    here = candidate;
                    virtualPage = page;
                    virtualKnown = true;
                    break;
                }
            }
        }
        if (here.isPresent()) {
            Translation previous = neighbour(walker.get(), virtualPage - PAGE, here.get());
            if (previous != null && memory.read(previous.physicalAddress(), bytes, 0, PAGE)) {
                length = PAGE;
                frameStart = PAGE;
            }
        }
        if (!memory.read(frame, bytes, length, PAGE)) {
            return false;
        }
        length += PAGE;
        if (here.isPresent()) {
            Translation next = neighbour(walker.get(), virtualPage + PAGE, here.get());
            if (next != null && memory.read(next.physicalAddress(), bytes, length, PAGE)) {
                length += PAGE;
            }
        }
        return true;
    }

    /**
     * Scans the window and keeps what matched the frame: matches wholly inside a neighbour are left out (that
     * page is judged when it runs), and every occurrence counts, so a copy in a neighbour hides nothing.
     */
    ScanCache.Verdict judge(Scanner scanner) {
        List<Detection> found = scanner.scanMemory(MemorySegment.ofArray(bytes).asSlice(0, length), frameStart,
                frameStart + PAGE);
        if (found.isEmpty()) {
            return ScanCache.Verdict.CLEAN;
        }
        List<CodeMatch> matches = new ArrayList<>();
        for (Detection detection : found) {
            matches.add(new CodeMatch(detection.name(), detection.database(), detection.offset() - frameStart));
        }
        return new ScanCache.Verdict(List.copyOf(matches));
    }

    /** The page at {@code page} when it is mapped executable with the same privilege as {@code here}, else null. */
    private static Translation neighbour(PageTableWalker walker, long page, Translation here) {
        Optional<Translation> other = walker.translate(page);
        if (other.isEmpty() || !other.get().executable() || other.get().user() != here.user()) {
            return null;
        }
        return other.get();
    }
}
