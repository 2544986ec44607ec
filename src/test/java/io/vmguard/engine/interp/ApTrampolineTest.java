package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.testing.ApTrampolineRun;
import io.vmguard.testing.PayloadMachine;
import org.junit.jupiter.api.Test;

/**
 * An application processor's walk from its startup IPI (real mode at vector:0000) through 16-bit and
 * 32-bit protected mode, PAE and EFER.LME, compatibility mode, to 64-bit mode, along the instructions of
 * Linux's trampoline_64.S and verify_cpu (src/test/payloads/ap-trampoline.S), with a real-mode INT/IRET
 * and PUSHA/POPA on the way. KvmApTrampolineTest runs the same payload under KVM.
 */
class ApTrampolineTest {
    @Test
    void startupIpiStateWalksToLongModeAsLinuxTrampolineDoes() throws Exception {
        CpuState sipi = new CpuState();
        sipi.resetForInit();
        sipi.startupAt(ApTrampolineRun.SIPI_VECTOR);
        assertEquals(ApTrampolineRun.startupCs(ApTrampolineRun.SIPI_VECTOR), sipi.segments[CpuState.CS],
                "CpuState.startupAt gives the CS the run starts from");
        try (PayloadMachine machine = PayloadMachine.create(new InterpEngine())) {
            ApTrampolineRun.runAndCheck(machine);
        }
    }
}
