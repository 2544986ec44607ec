package io.vmguard.vmi.linux;

/**
 * One task ({@code struct task_struct}) as read from guest memory.
 *
 * @param address       the task_struct's kernel address
 * @param parentTgid    real_parent's tgid (the parent {@code ps} shows)
 * @param uid           cred->uid; {@code euid} cred->euid
 * @param mm            the mm_struct, 0 for kernel threads and exited tasks
 * @param pgd           mm->pgd (kernel virtual), 0 without an mm
 * @param pageTableRoot guest-physical address of that pgd: what CR3 holds while the task runs (PCID bits and,
 *                      with PTI, the user-half bit 12 aside); 0 without an mm
 * @param kernelThread  PF_KTHREAD is set
 * @param flags         task->flags (PF_*); bits the kernel leaves unused are a rootkit's favourite marker
 * @param state         task->__state
 */
public record LinuxTask(long address, int pid, int tgid, String comm, int parentTgid, long uid, long euid,
                        long mm, long pgd, long pageTableRoot, boolean kernelThread, long flags, long state) {
    /** PF_KTHREAD (include/linux/sched.h). */
    public static final long PF_KTHREAD = 0x0020_0000;

    @Override
    public String toString() {
        return String.format("%6d %6d %6d %5d %-16s %s task=%#x", pid, tgid, parentTgid, uid, comm,
                kernelThread ? "[kthread]" : "", address);
    }
}
