package io.vmguard.vmi;

import java.util.List;

/** The model-specific registers introspection reads and watches. */
public final class Msr {
    public static final int SYSENTER_CS = 0x174;
    public static final int SYSENTER_ESP = 0x175;
    public static final int SYSENTER_EIP = 0x176;
    public static final int EFER = 0xc000_0080;
    public static final int STAR = 0xc000_0081;
    public static final int LSTAR = 0xc000_0082;
    public static final int CSTAR = 0xc000_0083;
    public static final int SYSCALL_MASK = 0xc000_0084;
    public static final int FS_BASE = 0xc000_0100;
    public static final int GS_BASE = 0xc000_0101;
    public static final int KERNEL_GS_BASE = 0xc000_0102;

    /** Captured with every {@link VcpuState}. */
    public static final List<Integer> WATCHED = List.of(SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP, EFER, STAR,
            LSTAR, CSTAR, SYSCALL_MASK, FS_BASE, GS_BASE, KERNEL_GS_BASE);

    /** The system-call entry MSRs whose change redirects system calls (integrity-checked). */
    public static final List<Integer> SYSCALL_ENTRY = List.of(SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP, STAR,
            LSTAR, CSTAR, SYSCALL_MASK);

    public static String name(int index) {
        return switch (index) {
            case SYSENTER_CS -> "SYSENTER_CS";
            case SYSENTER_ESP -> "SYSENTER_ESP";
            case SYSENTER_EIP -> "SYSENTER_EIP";
            case EFER -> "EFER";
            case STAR -> "STAR";
            case LSTAR -> "LSTAR";
            case CSTAR -> "CSTAR";
            case SYSCALL_MASK -> "SYSCALL_MASK";
            case FS_BASE -> "FS_BASE";
            case GS_BASE -> "GS_BASE";
            case KERNEL_GS_BASE -> "KERNEL_GS_BASE";
            default -> String.format("MSR_%#x", index);
        };
    }

    private Msr() {
    }
}
