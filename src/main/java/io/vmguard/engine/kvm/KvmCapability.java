package io.vmguard.engine.kvm;

/** The KVM_CHECK_EXTENSION capabilities vmguard relies on, with their numbers from linux/kvm.h. */
enum KvmCapability {
    /** In-kernel PIC, I/O APIC and local APICs (KVM_CREATE_IRQCHIP, KVM_IRQ_LINE). */
    KVM_CAP_IRQCHIP(0),
    /** Memory slots backed by our own mmaps (KVM_SET_USER_MEMORY_REGION). */
    KVM_CAP_USER_MEMORY(3),
    /** KVM_SET_TSS_ADDR, which Intel needs for real-mode emulation. */
    KVM_CAP_SET_TSS_ADDR(4),
    /** KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2. */
    KVM_CAP_EXT_CPUID(7),
    /** KVM_CREATE_PIT2: the in-kernel i8254. */
    KVM_CAP_PIT2(33),
    /** KVM_SIGNAL_MSI: message-signalled interrupts from userspace devices (PCI MSI-X). */
    KVM_CAP_SIGNAL_MSI(77),
    /** KVM_SET_IDENTITY_MAP_ADDR: where Intel's unrestricted-guest-less real mode keeps its page table. */
    KVM_CAP_SET_IDENTITY_MAP_ADDR(37),
    /** kvm_run.immediate_exit, which closes the race between a stop request and entering KVM_RUN. */
    KVM_CAP_IMMEDIATE_EXIT(136);

    private final int number;

    KvmCapability(int number) {
        this.number = number;
    }

    int number() {
        return number;
    }
}
