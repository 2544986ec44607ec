package io.vmguard.engine.monitor;

/**
 * What a vCPU did that an armed {@link MonitorPlan} asked to hear about. Every event names the vCPU, the
 * address of the instruction that did it and the page-table root (CR3) it ran under, so an observer can
 * name the process. Delivered on the vCPU's thread after the instruction's effect and before the guest's
 * next instruction.
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

    enum Table { GDT, IDT }
}
