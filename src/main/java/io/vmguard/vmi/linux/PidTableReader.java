package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the initial PID namespace's IDR ({@code init_pid_ns.idr}, an XArray of {@code struct pid}), the
 * table /proc lists and kill(2) searches: a process unlinked from the task list but still here is hidden
 * from naive walkers, not from the kernel.
 */
final class PidTableReader {
    private final KernelContext kernel;

    PidTableReader(KernelContext kernel) {
        this.kernel = kernel;
    }

    List<PidEntry> entries() throws VmiException {
        long namespace = kernel.symbols().require("init_pid_ns");
        long head = kernel.memory().readLong(namespace + kernel.offset("pid_namespace", "idr.idr_rt.xa_head"));
        long base = Integer.toUnsignedLong(kernel.memory().readInt(namespace + kernel.offset("pid_namespace", "idr.idr_base")));
        XArrayWalker.Layout layout = new XArrayWalker.Layout(kernel.offset("xa_node", "shift"),
                kernel.offset("xa_node", "slots"), kernel.types().arrayLength("xa_node", "slots"));
        int pidType = (int) kernel.types().enumValue("PIDTYPE_PID").orElse(0);
        long tasksOffset = kernel.offset("pid", "tasks[" + pidType + "]");
        long linkOffset = kernel.offset("task_struct", "pid_links[" + pidType + "]");
        List<PidEntry> entries = new ArrayList<>();
        for (XArrayWalker.Entry entry : XArrayWalker.entries(kernel.memory(), head, layout)) {
            long pid = GuestPointers.kernel(entry.value(), "struct pid");
            long first = kernel.memory().readLong(pid + tasksOffset);
            long task = first == 0 ? 0 : GuestPointers.kernel(first, "pid task link") - linkOffset;
            entries.add(new PidEntry((int) (entry.index() + base), pid, task));
        }
        return entries;
    }
}
