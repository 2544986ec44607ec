package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.cpu.Cpuid;
import io.vmguard.engine.interp.cpu.GuestFault;
import org.junit.jupiter.api.Test;

/**
 * The interpreted CPU tells the guest, the architectural way, which speculative-execution bugs it does not have:
 * CPUID.(EAX=7,ECX=0):EDX bit 29 enumerates IA32_ARCH_CAPABILITIES, RDMSR 0x10a reads it, and WRMSR to it faults
 * as on hardware (it is read-only). Linux reads it once at boot to decide on page-table isolation, VERW buffer
 * clearing and the other mitigations.
 */
class ArchCapabilitiesTest {
    private static final long RDCL_NO = 1, MDS_NO = 1 << 5, ITS_NO = 1L << 62;

    @Test
    void cpuidEnumeratesTheMsrAndRdmsrReadsTheBugsTheCpuDoesNotHave() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runLong("""
                    movl $7, %eax
                    xorl %ecx, %ecx
                    cpuid
                    movl %edx, 0x600
                    movl $0x10a, %ecx
                    rdmsr
                    movl %eax, 0x604
                    movl %edx, 0x608
                    hlt
                    """);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(1 << 29, rig.read32(0x600) & (1 << 29), "CPUID.7.0:EDX[29], ARCH_CAPABILITIES");
            long msr = (rig.read32(0x604) & 0xffff_ffffL) | (long) rig.read32(0x608) << 32;
            assertEquals(Cpuid.ARCH_CAPABILITIES_MSR, msr);
            assertEquals(RDCL_NO | MDS_NO | ITS_NO, msr & (RDCL_NO | MDS_NO | ITS_NO), "no Meltdown, MDS or ITS");
        }
    }

    @Test
    void theMsrIsReadOnly() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.gate64(GuestFault.GP, ModeRig.CODE + 0x100, 0);
            VcpuExit exit = rig.runLong("""
                    movl $0x10a, %ecx
                    xorl %eax, %eax
                    xorl %edx, %edx
                    wrmsr
                    movl $1, 0x600              /* not reached */
                    hlt
                    .org 0x100                  /* #GP */
                    movl $13, 0x604
                    hlt
                    """);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0, rig.read32(0x600), "WRMSR went on");
            assertEquals(13, rig.read32(0x604), "WRMSR to IA32_ARCH_CAPABILITIES raised #GP");
        }
    }
}
