package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Reads a process's VMAs from {@code mm->mm_mt}, the maple tree that replaced the VMA list in 6.1. */
final class MemoryMapReader {
    private static final String VMA = "vm_area_struct";

    private final KernelContext kernel;

    MemoryMapReader(KernelContext kernel) {
        this.kernel = kernel;
    }

    List<MemoryArea> areas(LinuxTask task) throws VmiException {
        if (task.mm() == 0) {
            return List.of();
        }
        long mm = task.mm();
        long root = kernel.pointer(mm, "mm_struct", "mm_mt.ma_root");
        List<MemoryArea> areas = new ArrayList<>();
        DentryPath paths = new DentryPath(kernel);
        long previousEnd = 0;
        for (long vma : MapleTreeWalker.entries(kernel.memory(), root, layout())) {
            GuestPointers.kernel(vma, "VMA");
            long start = kernel.pointer(vma, VMA, "vm_start");
            long end = kernel.pointer(vma, VMA, "vm_end");
            long owner = kernel.pointer(vma, VMA, "vm_mm");
            if (owner != mm || Long.compareUnsigned(start, end) >= 0 || Long.compareUnsigned(start, previousEnd) < 0) {
                throw new VmiException(String.format("VMA %#x (%#x-%#x, mm %#x) does not belong in mm %#x after %#x",
                        vma, start, end, owner, mm, previousEnd), vma);
            }
            previousEnd = end;
            long flags = kernel.pointer(vma, VMA, "vm_flags");
            long file = kernel.pointer(vma, VMA, "vm_file");
            Optional<String> path = file == 0 ? Optional.empty()
                    : Optional.of(paths.of(GuestPointers.kernel(file, "vm_file") + kernel.offset("file", "f_path")));
            areas.add(new MemoryArea(start, end, flags, path, vma));
        }
        return areas;
    }

    private MapleTreeWalker.Layout layout() throws VmiException {
        KernelTypes types = kernel.types();
        return new MapleTreeWalker.Layout(
                types.offsetOf("maple_range_64", "pivot"), types.offsetOf("maple_range_64", "slot"),
                types.offsetOf("maple_range_64", "meta.end"), types.arrayLength("maple_range_64", "slot"),
                types.offsetOf("maple_arange_64", "pivot"), types.offsetOf("maple_arange_64", "slot"),
                types.offsetOf("maple_arange_64", "meta.end"), types.arrayLength("maple_arange_64", "slot"));
    }
}
