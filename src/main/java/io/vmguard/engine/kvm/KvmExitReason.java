package io.vmguard.engine.kvm;

/** kvm_run.exit_reason values (linux/kvm.h) vmguard handles or names in messages. */
final class KvmExitReason {
    static final int UNKNOWN = 0;
    static final int EXCEPTION = 1;
    static final int IO = 2;
    static final int HYPERCALL = 3;
    static final int DEBUG = 4;
    static final int HLT = 5;
    static final int MMIO = 6;
    static final int IRQ_WINDOW_OPEN = 7;
    static final int SHUTDOWN = 8;
    static final int FAIL_ENTRY = 9;
    static final int INTR = 10;
    static final int SET_TPR = 11;
    static final int TPR_ACCESS = 12;
    static final int NMI = 16;
    static final int INTERNAL_ERROR = 17;
    static final int SYSTEM_EVENT = 24;
    static final int IOAPIC_EOI = 26;
    static final int HYPERV = 27;
    static final int X86_RDMSR = 29;
    static final int X86_WRMSR = 30;
    static final int DIRTY_RING_FULL = 31;
    static final int X86_BUS_LOCK = 33;
    static final int XEN = 34;
    static final int NOTIFY = 37;

    private KvmExitReason() {}

    /** "KVM_EXIT_DEBUG (4)" for messages; an unknown number is shown bare. */
    static String describe(int reason) {
        String name = switch (reason) {
            case UNKNOWN -> "KVM_EXIT_UNKNOWN";
            case EXCEPTION -> "KVM_EXIT_EXCEPTION";
            case IO -> "KVM_EXIT_IO";
            case HYPERCALL -> "KVM_EXIT_HYPERCALL";
            case DEBUG -> "KVM_EXIT_DEBUG";
            case HLT -> "KVM_EXIT_HLT";
            case MMIO -> "KVM_EXIT_MMIO";
            case IRQ_WINDOW_OPEN -> "KVM_EXIT_IRQ_WINDOW_OPEN";
            case SHUTDOWN -> "KVM_EXIT_SHUTDOWN";
            case FAIL_ENTRY -> "KVM_EXIT_FAIL_ENTRY";
            case INTR -> "KVM_EXIT_INTR";
            case SET_TPR -> "KVM_EXIT_SET_TPR";
            case TPR_ACCESS -> "KVM_EXIT_TPR_ACCESS";
            case NMI -> "KVM_EXIT_NMI";
            case INTERNAL_ERROR -> "KVM_EXIT_INTERNAL_ERROR";
            case SYSTEM_EVENT -> "KVM_EXIT_SYSTEM_EVENT";
            case IOAPIC_EOI -> "KVM_EXIT_IOAPIC_EOI";
            case HYPERV -> "KVM_EXIT_HYPERV";
            case X86_RDMSR -> "KVM_EXIT_X86_RDMSR";
            case X86_WRMSR -> "KVM_EXIT_X86_WRMSR";
            case DIRTY_RING_FULL -> "KVM_EXIT_DIRTY_RING_FULL";
            case X86_BUS_LOCK -> "KVM_EXIT_X86_BUS_LOCK";
            case XEN -> "KVM_EXIT_XEN";
            case NOTIFY -> "KVM_EXIT_NOTIFY";
            default -> null;
        };
        return name == null ? "exit reason " + reason : name + " (" + reason + ")";
    }
}
