package io.vmguard.engine.kvm;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The MSRs a KVM vCPU snapshot keeps, in the order KVM_SET_MSRS gets them. Everything else a guest can
 * set lives in kvm_sregs (EFER, CR8, the APIC base) or the LAPIC page, or is not kept (performance
 * counters, machine-check banks, nested VMX capabilities). A snapshot may hold only these MSRs: the file
 * is untrusted and must not reach MSRs vmguard never meant to restore. Of these, a vCPU saves those its
 * host's KVM_GET_MSR_INDEX_LIST names (IA32_XSS only with XSAVES, SPEC_CTRL only with the feature...).
 */
final class KvmSnapshotMsrs {
    /** Index to name, for messages. */
    static final Map<Integer, String> NAMES = names();

    private KvmSnapshotMsrs() {}

    private static Map<Integer, String> names() {
        Map<Integer, String> names = new LinkedHashMap<>();
        // The TSC first: TSC_DEADLINE below is a TSC value, and TSC_ADJUST is only recorded on a host write.
        names.put(0x10, "IA32_TSC");
        names.put(0x3b, "IA32_TSC_ADJUST");
        names.put(0x1b, "IA32_APIC_BASE");
        names.put(0x3a, "IA32_FEATURE_CONTROL");
        names.put(0x48, "IA32_SPEC_CTRL");
        names.put(0x174, "IA32_SYSENTER_CS");
        names.put(0x175, "IA32_SYSENTER_ESP");
        names.put(0x176, "IA32_SYSENTER_EIP");
        names.put(0x1a0, "IA32_MISC_ENABLE");
        names.put(0x277, "IA32_PAT");
        names.put(0xda0, "IA32_XSS");
        // MTRRs: default type, the eight variable-range pairs, the fixed ranges.
        names.put(0x2ff, "IA32_MTRR_DEF_TYPE");
        for (int i = 0; i < 8; i++) {
            names.put(0x200 + 2 * i, "IA32_MTRR_PHYSBASE" + i);
            names.put(0x201 + 2 * i, "IA32_MTRR_PHYSMASK" + i);
        }
        names.put(0x250, "IA32_MTRR_FIX64K_00000");
        names.put(0x258, "IA32_MTRR_FIX16K_80000");
        names.put(0x259, "IA32_MTRR_FIX16K_A0000");
        for (int i = 0; i < 8; i++) {
            names.put(0x268 + i, "IA32_MTRR_FIX4K_" + Integer.toHexString(0xc0000 + i * 0x8000).toUpperCase());
        }
        // The SYSCALL MSRs, the segment bases and TSC_AUX (RDTSCP/RDPID).
        names.put(0xc0000081, "STAR");
        names.put(0xc0000082, "LSTAR");
        names.put(0xc0000083, "CSTAR");
        names.put(0xc0000084, "SFMASK");
        names.put(0xc0000100, "FS_BASE");
        names.put(0xc0000101, "GS_BASE");
        names.put(0xc0000102, "KERNEL_GS_BASE");
        names.put(0xc0000103, "TSC_AUX");
        // KVM's paravirtual MSRs: kvmclock (old and new numbers), async page faults (the interrupt
        // vector before the enable, which checks it), steal time, PV EOI, poll control.
        names.put(0x11, "KVM_WALL_CLOCK");
        names.put(0x12, "KVM_SYSTEM_TIME");
        names.put(0x4b564d00, "KVM_WALL_CLOCK_NEW");
        names.put(0x4b564d01, "KVM_SYSTEM_TIME_NEW");
        names.put(0x4b564d07, "KVM_ASYNC_PF_INT");
        names.put(0x4b564d02, "KVM_ASYNC_PF_EN");
        names.put(0x4b564d03, "KVM_STEAL_TIME");
        names.put(0x4b564d04, "KVM_PV_EOI_EN");
        names.put(0x4b564d06, "KVM_POLL_CONTROL");
        // Last: a deadline only arms once the TSC is restored and the LAPIC (set before the MSRs) has
        // its timer in TSC-deadline mode.
        names.put(0x6e0, "IA32_TSC_DEADLINE");
        return Collections.unmodifiableMap(names);
    }

    static String name(int index) {
        String name = NAMES.get(index);
        return String.format("%s (0x%x)", name == null ? "MSR" : name, index);
    }
}
