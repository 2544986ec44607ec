package io.vmguard.vmi.linux;

import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/** Reads tasks: one by address, the process list from init_task, a process's threads, each vCPU's current task. */
final class TaskReader {
    private static final String TASK = "task_struct";
    private static final int COMM_MAX = 64;

    private final KernelContext kernel;

    TaskReader(KernelContext kernel) {
        this.kernel = kernel;
    }

    LinuxTask task(long address) throws VmiException {
        GuestPointers.kernel(address, "task");
        var memory = kernel.memory();
        int pid = memory.readInt(address + kernel.offset(TASK, "pid"));
        int tgid = memory.readInt(address + kernel.offset(TASK, "tgid"));
        var commField = kernel.types().field(TASK, "comm");
        String comm = memory.readCString(address + commField.offset(), (int) Math.min(commField.size(), COMM_MAX));
        long parent = kernel.pointer(address, TASK, "real_parent");
        int parentTgid = parent == 0 ? 0 : memory.readInt(GuestPointers.kernel(parent, "real_parent")
                + kernel.offset(TASK, "tgid"));
        long cred = kernel.pointer(address, TASK, "cred");
        long uid = 0;
        long euid = 0;
        if (cred != 0) {
            GuestPointers.kernel(cred, "cred");
            uid = Integer.toUnsignedLong(memory.readInt(cred + kernel.offset("cred", "uid")));
            euid = Integer.toUnsignedLong(memory.readInt(cred + kernel.offset("cred", "euid")));
        }
        long mm = kernel.pointer(address, TASK, "mm");
        long pgd = 0;
        long root = 0;
        if (mm != 0) {
            pgd = kernel.pointer(GuestPointers.kernel(mm, "mm"), "mm_struct", "pgd");
            root = memory.translate(pgd).map(t -> t.physicalAddress()).orElse(0L);
        }
        long flags = Integer.toUnsignedLong(memory.readInt(address + kernel.offset(TASK, "flags")));
        long state = Integer.toUnsignedLong(memory.readInt(address + kernel.offset(TASK, "__state")));
        return new LinuxTask(address, pid, tgid, comm, parentTgid, uid, euid, mm, pgd, root,
                (flags & LinuxTask.PF_KTHREAD) != 0, flags, state);
    }

    /** init_task, then every task on its {@code tasks} ring: one per thread group (process). */
    List<LinuxTask> processes() throws VmiException {
        long initTask = kernel.symbols().require("init_task");
        long tasksOffset = kernel.offset(TASK, "tasks");
        List<LinuxTask> tasks = new ArrayList<>();
        tasks.add(task(initTask));
        for (long node : ListWalker.nodes(kernel.memory(), initTask + tasksOffset, "init_task.tasks")) {
            tasks.add(task(node - tasksOffset));
        }
        return tasks;
    }

    /** Every thread of {@code leader}'s group: signal->thread_head through task->thread_node (6.7+). */
    List<LinuxTask> threads(LinuxTask leader) throws VmiException {
        long signal = GuestPointers.kernel(kernel.pointer(leader.address(), TASK, "signal"), "signal");
        long head = signal + kernel.offset("signal_struct", "thread_head");
        long nodeOffset = kernel.offset(TASK, "thread_node");
        List<LinuxTask> threads = new ArrayList<>();
        for (long node : ListWalker.nodes(kernel.memory(), head, "signal.thread_head")) {
            threads.add(task(node - nodeOffset));
        }
        return threads;
    }

    /**
     * The vCPU's current task. Its per-CPU base is GS.base in the kernel (KERNEL_GS_BASE while user code runs);
     * when that is not a kernel address (early boot) {@code __per_cpu_offset[vCPU index]}.
     */
    CurrentTask current(VcpuState vcpu) throws VmiException {
        long base = vcpu.kernelPerCpuBase();
        if (base >= 0) {
            long offsets = kernel.symbols().require("__per_cpu_offset");
            base = kernel.memory().readLong(offsets + 8L * vcpu.index());
        }
        long task = kernel.memory().readLong(base + currentTaskOffset());
        return new CurrentTask(vcpu.index(), base, task(task));
    }

    /** The task current on the CPU whose per-CPU area starts at {@code perCpuBase} (a kernel address). */
    LinuxTask currentAt(long perCpuBase) throws VmiException {
        return task(kernel.memory().readLong(perCpuBase + currentTaskOffset()));
    }

    /** pcpu_hot.current_task (6.2+) or the per-CPU current_task of older kernels. */
    private long currentTaskOffset() throws VmiException {
        OptionalLong hot = perCpu("pcpu_hot");
        if (hot.isPresent() && kernel.types().has("pcpu_hot", "current_task")) {
            return hot.getAsLong() + kernel.offset("pcpu_hot", "current_task");
        }
        OptionalLong current = perCpu("current_task");
        if (current.isPresent()) {
            return current.getAsLong();
        }
        throw new VmiException("the kernel has neither pcpu_hot.current_task nor a per-CPU current_task");
    }

    private OptionalLong perCpu(String name) throws VmiException {
        for (Symbol symbol : kernel.symbols().named(name)) {
            if (symbol.perCpu()) {
                return OptionalLong.of(symbol.address());
            }
        }
        return kernel.types().perCpuOffset(name);
    }
}
