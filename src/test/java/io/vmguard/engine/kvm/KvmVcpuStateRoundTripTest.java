package io.vmguard.engine.kvm;

import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.PayloadMachine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.Vcpu;
import io.vmguard.testing.LongModeSandbox.Ring;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/** What is written to a KVM vCPU's registers, special registers and MSRs reads back the same. */
@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmVcpuStateRoundTripTest {
    private static final int MSR_IA32_SYSENTER_CS = 0x174;
    private static final int MSR_KERNEL_GS_BASE = 0xc0000102;
    private static final int MSR_TSC_AUX = 0xc0000103;

    @Test
    void generalPurposeRegistersRoundTrip() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            Registers.Builder builder = Registers.builder();
            long seed = 0x0101010101010101L;
            builder.rax(seed).rbx(seed * 2).rcx(seed * 3).rdx(seed * 4).rsi(seed * 5).rdi(seed * 6).rsp(seed * 7)
                    .rbp(seed * 8).r8(seed * 9).r9(seed * 10).r10(seed * 11).r11(seed * 12).r12(seed * 13)
                    .r13(seed * 14).r14(seed * 15).r15(-1L).rip(0x123456789abcL)
                    // reserved bit 1, CF, ZF, SF, IF, DF, IOPL 3
                    .rflags(0x2 | 0x1 | 0x40 | 0x80 | 0x200 | 0x400 | 0x3000);
            Registers written = builder.build();

            machine.vcpu.setRegisters(written);

            assertEquals(written, machine.vcpu.registers());
        }
    }

    @Test
    void longModeSpecialRegistersRoundTrip() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            for (Ring ring : Ring.values()) {
                SpecialRegisters written = LongModeSandbox.specialRegisters(machine.vcpu.specialRegisters(), ring);

                machine.vcpu.setSpecialRegisters(written);

                assertEquals(written, machine.vcpu.specialRegisters(), ring + " sregs");
            }
        }
    }

    @Test
    void msrsRoundTrip() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            Vcpu vcpu = machine.vcpu;
            vcpu.writeMsr(MSR_IA32_SYSENTER_CS, 0x10);
            vcpu.writeMsr(MSR_KERNEL_GS_BASE, 0xffff888012345678L);
            vcpu.writeMsr(MSR_TSC_AUX, 7);

            assertEquals(0x10, vcpu.readMsr(MSR_IA32_SYSENTER_CS));
            assertEquals(0xffff888012345678L, vcpu.readMsr(MSR_KERNEL_GS_BASE));
            assertEquals(7, vcpu.readMsr(MSR_TSC_AUX));
        }
    }

    @Test
    void anMsrKvmDoesNotKnowIsAnEngineExceptionNamingIt() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            EngineException read = assertThrows(EngineException.class, () -> machine.vcpu.readMsr(0x4b564dff));
            assertEquals("KVM cannot read MSR 0x4b564dff on vCPU 0", read.getMessage());
            EngineException write = assertThrows(EngineException.class, () -> machine.vcpu.writeMsr(0x4b564dff, 1));
            assertEquals("KVM refused to write 0x1 to MSR 0x4b564dff on vCPU 0", write.getMessage());
        }
    }

    /**
     * Only the x87 part: KVM_GET_FPU never reports MXCSR (nor does KVM_SET_FPU take it), so MXCSR is
     * checked from inside the guest by KvmRing3PayloadTest.
     */
    @Test
    void aNewVcpuHasTheResetX87ControlWord() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment fpu = ((KvmVcpu) machine.vcpu).fpu(arena);
            assertEquals(KvmFpuLayout.RESET_FCW, KvmFpuLayout.fcw(fpu));
        }
    }

    @Test
    void registersOfAClosedVcpuAreAnEngineException() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            machine.vcpu.close();
            assertEquals("vCPU 0 is closed", assertThrows(EngineException.class, machine.vcpu::registers).getMessage());
        }
    }

    @Test
    void secondVcpuCanBeCreatedAndAnIndexBeyondXapicIdsCannot() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            Vcpu second = machine.vm.createVcpu(1);
            assertEquals(1, second.index());
            assertThrows(EngineException.class, () -> machine.vm.createVcpu(255));
        }
    }
}
