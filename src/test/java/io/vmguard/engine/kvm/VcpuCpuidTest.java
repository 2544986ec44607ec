package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Each vCPU's CPUID carries its own APIC id and leaves everything else as KVM offered it. */
class VcpuCpuidTest {
    @Test
    void apicIdIsPatchedIntoLeafOneAndTheTopologyLeaves() {
        CpuidEntry features = new CpuidEntry(0x1, 0, 0, 0x000906ea, 0x00100800, 0x7ffafbff, 0xbfebfbff);
        CpuidEntry topology0 = new CpuidEntry(0xb, 0, 1, 1, 1, 0x100, 0);
        CpuidEntry topology1 = new CpuidEntry(0xb, 1, 1, 4, 2, 0x201, 0);
        CpuidEntry topologyV2 = new CpuidEntry(0x1f, 0, 1, 1, 1, 0x100, 0);
        CpuidEntry kvmSignature = new CpuidEntry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);

        List<CpuidEntry> patched = VcpuCpuid.forVcpu(List.of(features, topology0, topology1, topologyV2, kvmSignature), 3);

        assertEquals(features.withEbx(0x03100800), patched.get(0), "EBX[31:24] = APIC id, the rest kept");
        assertEquals(topology0.withEdx(3), patched.get(1));
        assertEquals(topology1.withEdx(3), patched.get(2));
        assertEquals(topologyV2.withEdx(3), patched.get(3));
        assertEquals(kvmSignature, patched.get(4), "KVM's paravirtual leaves untouched");
    }
}
