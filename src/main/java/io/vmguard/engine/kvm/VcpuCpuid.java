package io.vmguard.engine.kvm;

import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID table of one vCPU: what KVM supports on this host, with the APIC ids made the vCPU's own.
 * KVM's supported table reports APIC id 0 everywhere; a guest kernel that finds two CPUs with the same
 * id refuses to bring the second up. KVM's paravirtual leaves (0x40000000 and up: the "KVMKVMKVM"
 * signature and feature bits such as kvmclock) are kept as they are.
 */
final class VcpuCpuid {
    private static final int LEAF_FEATURES = 0x1;
    private static final int LEAF_EXTENDED_TOPOLOGY = 0xb;
    private static final int LEAF_V2_EXTENDED_TOPOLOGY = 0x1f;

    private VcpuCpuid() {}

    static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId) {
        List<CpuidEntry> entries = new ArrayList<>(supported.size());
        for (CpuidEntry entry : supported) {
            entries.add(switch (entry.function()) {
                // EBX[31:24] is the initial (xAPIC) APIC id.
                case LEAF_FEATURES -> entry.withEbx((entry.ebx() & 0x00ffffff) | (apicId << 24));
                // EDX of every subleaf is the x2APIC id.
                case LEAF_EXTENDED_TOPOLOGY, LEAF_V2_EXTENDED_TOPOLOGY -> entry.withEdx(apicId);
                default -> entry;
            });
        }
        return entries;
    }
}
