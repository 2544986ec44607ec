package io.vmguard.engine.kvm;

/** The KVM_CHECK_EXTENSION capabilities vmguard uses, with their numbers from linux/kvm.h. */
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
    KVM_CAP_IMMEDIATE_EXIT(136),
    /** KVM_GET/SET_PIT2: the PIT's state, for snapshots. */
    KVM_CAP_PIT_STATE2(35),
    /** KVM_GET/SET_CLOCK: kvmclock, for snapshots. */
    KVM_CAP_ADJUST_CLOCK(39),
    /** KVM_GET/SET_VCPU_EVENTS: pending exceptions, interrupts and NMIs, for snapshots. */
    KVM_CAP_VCPU_EVENTS(41),
    /** KVM_GET/SET_DEBUGREGS, for snapshots. */
    KVM_CAP_DEBUGREGS(50),
    /** KVM_GET/SET_XSAVE; only where the host CPU has XSAVE (else snapshots use KVM_GET_FPU). */
    KVM_CAP_XSAVE(55, false),
    /** KVM_GET/SET_XCRS; only where the host CPU has XSAVE. */
    KVM_CAP_XCRS(56, false),
    /** KVM_GET_XSAVE2, whose value on a VM is the size of its XSAVE area (Linux 5.17 and later). */
    KVM_CAP_XSAVE2(208, false),
    /** MSR accesses KVM would refuse (or a filter denies) exit to userspace as KVM_EXIT_X86_RDMSR/WRMSR (Linux 5.10). */
    KVM_CAP_X86_USER_SPACE_MSR(188, false),
    /** KVM_X86_SET_MSR_FILTER: deny chosen guest MSR accesses (Linux 5.10); with the above, they reach us. */
    KVM_CAP_X86_MSR_FILTER(189, false);

    private final int number;
    private final boolean required;

    KvmCapability(int number) {
        this(number, true);
    }

    KvmCapability(int number, boolean required) {
        this.number = number;
        this.required = required;
    }

    /** Whether vmguard refuses a KVM without it (the others are used where present). */
    boolean required() {
        return required;
    }

    int number() {
        return number;
    }
}
