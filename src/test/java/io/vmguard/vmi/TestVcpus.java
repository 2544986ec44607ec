package io.vmguard.vmi;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import java.util.Map;

/** vCPU states for introspection tests: a 64-bit kernel-mode vCPU with chosen CR3, LSTAR, GS base and IDT. */
public final class TestVcpus {
    private TestVcpus() {}

    public static VcpuState kernelMode(int index, long cr3, boolean fiveLevel, long lstar, long gsBase,
                                       DescriptorTable idt) {
        SpecialRegisters special = new SpecialRegisters(Segment.code64(0x10), Segment.data(0x18), Segment.data(0x18),
                Segment.data(0), Segment.data(0), Segment.data(0x18), Segment.tss(0x40, 0, 0x67), Segment.unusableLdt(),
                new DescriptorTable(0, 0x7f), idt,
                SpecialRegisters.CR0_PE | SpecialRegisters.CR0_PG | SpecialRegisters.CR0_WP, 0, cr3,
                SpecialRegisters.CR4_PAE | (fiveLevel ? PageTableWalker.CR4_LA57 : 0), 0,
                SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA | SpecialRegisters.EFER_SCE, 0xfee00900L);
        Registers registers = Registers.builder().rflags(Registers.RFLAGS_RESERVED).build();
        return new VcpuState(index, registers, special, Map.of(Msr.LSTAR, lstar, Msr.GS_BASE, gsBase));
    }

    public static VcpuState kernelMode(long cr3, long lstar, long gsBase) {
        return kernelMode(0, cr3, false, lstar, gsBase, new DescriptorTable(0, 0));
    }
}
