package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.VcpuExit;
import io.vmguard.testing.Payload;
import io.vmguard.testing.PayloadAssembler;
import io.vmguard.testing.PayloadMachine;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * An application processor's walk from its startup IPI (real mode at vector:0000) through 16-bit and
 * 32-bit protected mode, PAE and EFER.LME, compatibility mode, to 64-bit mode, along the instructions of
 * Linux's trampoline_64.S and verify_cpu (src/test/payloads/ap-trampoline.S), with a real-mode INT/IRET
 * and PUSHA/POPA on the way. Each stage leaves a marker the test reads back.
 */
class ApTrampolineTest {
    private static final int SIPI_VECTOR = 0x08;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void startupIpiStateWalksToLongModeAsLinuxTrampolineDoes() throws Exception {
        Payload payload = PayloadAssembler.assemble("ap-trampoline", (long) SIPI_VECTOR << 12);
        try (PayloadMachine machine = PayloadMachine.create(new InterpEngine())) {
            machine.memory.write(payload.origin(), payload.code());
            SpecialRegisters powerOn = machine.vcpu.specialRegisters();
            CpuState sipi = new CpuState();
            sipi.resetForInit();
            sipi.startupAt(SIPI_VECTOR);
            Segment cs = sipi.segments[CpuState.CS];
            assertEquals(SIPI_VECTOR << 8, cs.selector());
            assertEquals((long) SIPI_VECTOR << 12, cs.base());
            machine.vcpu.setSpecialRegisters(new SpecialRegisters(cs, sipi.segments[CpuState.DS], sipi.segments[CpuState.ES],
                    sipi.segments[CpuState.FS], sipi.segments[CpuState.GS], sipi.segments[CpuState.SS], sipi.tr, sipi.ldt,
                    sipi.gdt, sipi.idt, sipi.cr0, 0, 0, 0, 0, 0, powerOn.apicBase()));
            machine.vcpu.setRegisters(Registers.builder().rip(0).rflags(Registers.RFLAGS_RESERVED).build());

            VcpuExit exit = machine.vcpu.run();

            long rip = machine.vcpu.registers().rip();
            assertInstanceOf(VcpuExit.Halt.class, exit, () -> "ended with " + exit + " at rip 0x" + Long.toHexString(rip));
            SpecialRegisters end = machine.vcpu.specialRegisters();
            assertEquals(0x3436343634363436L, machine.vcpu.registers().rax(), "64-bit marker in RAX");
            assertEquals(0x3436343634363436L, read64(machine, payload.symbol("long_marker")), "64-bit marker, RIP-relative");
            assertEquals(0x4d4f4343, read32(machine, payload.symbol("compat_marker")), "compatibility-mode marker");
            assertEquals(0x33323332, read32(machine, payload.symbol("prot_marker")), "32-bit marker (moffs32)");
            assertEquals(0x4d494952, read32(machine, payload.symbol("real_marker")), "DX and CX from the real-mode INT 30h handler");
            assertEquals(0x5678_1234, read32(machine, payload.symbol("real_bx")), "BX and SI after PUSHA/POPA");
            assertEquals(0x10, end.cs().selector());
            assertEquals(true, end.cs().l(), "CS.L: 64-bit mode");
            long lmaLme = SpecialRegisters.EFER_LMA | SpecialRegisters.EFER_LME;
            assertEquals(lmaLme, end.efer() & lmaLme, "EFER.LME and LMA");
            assertEquals(0x80050033L, end.cr0(), "CR0 as startup_32 left it (PG WP AM NE ET MP PE)");
        }
    }

    private static int read32(PayloadMachine machine, long address) {
        return machine.memory.slice(address, 4).get(U32, 0);
    }

    private static long read64(PayloadMachine machine, long address) {
        return machine.memory.slice(address, 8).get(U64, 0);
    }
}
