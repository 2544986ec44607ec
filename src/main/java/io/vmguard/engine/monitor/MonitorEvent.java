package io.vmguard.engine.monitor;

/**
 * What a vCPU did that an armed {@link MonitorPlan} asked to hear about. Every event names the vCPU, the
 * address of the instruction that did it and the page-table root (CR3) it ran under, so an observer can
 * name the process. Delivered on the vCPU's thread after the instruction's effect and before the guest's
 * next instruction; {@link CodeExecution} alone comes before its instruction, which it may stop.
 */
public sealed interface MonitorEvent {
    int vcpu();

    long rip();

    long cr3();

    /** The write changed {@code size} bytes at {@code address} from {@code oldValue} to {@code newValue} (little endian). */
    record PhysicalWrite(int vcpu, long rip, long cr3, long address, int size, long oldValue, long newValue)
            implements MonitorEvent {}

    record ControlRegisterWrite(int vcpu, long rip, long cr3, int register, long oldValue, long newValue)
            implements MonitorEvent {}

    record MsrWrite(int vcpu, long rip, long cr3, int msr, long oldValue, long newValue) implements MonitorEvent {}

    record DescriptorTableLoad(int vcpu, long rip, long cr3, Table table, long oldBase, int oldLimit, long base,
                               int limit) implements MonitorEvent {}

    /**
     * A SYSCALL instruction; {@code rip} is the instruction's own address, registers as the kernel will see
     * them. {@code kernelPerCpuBase} is KERNEL_GS_BASE (the kernel's per-CPU area while user code runs), so an
     * observer can name the calling task without stopping the vCPU.
     */
    record SystemCall(int vcpu, long rip, long cr3, long number, long arg0, long arg1, long arg2, long kernelPerCpuBase)
            implements MonitorEvent {}

    /**
     * A vCPU is about to run the first instruction fetched from {@code frame} since the frame's content last
     * changed (written by a vCPU, a device or the VMM), or ever. Unlike the other events it comes <b>before</b> the instruction, and the listener's
     * {@link MonitorListener#beforeExecution} decides whether it runs. {@code rip} is the instruction's address
     * and {@code userMode} whether it runs at CPL 3. An instruction that straddles two frames asks about each
     * (both with its address). {@code frame} is normally RAM; code fetched from outside RAM (device memory,
     * whose content can change unseen) is asked about at every instruction, and its bytes are not in guest
     * memory to read.
     *
     * @param frame the guest-physical address of the frame's first byte (a multiple of 4096)
     */
    record CodeExecution(int vcpu, long rip, long cr3, long frame, boolean userMode) implements MonitorEvent {}

    enum Table { GDT, IDT }
}
