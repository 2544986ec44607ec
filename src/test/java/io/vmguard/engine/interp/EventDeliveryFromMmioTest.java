package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.VcpuExit;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;
import org.junit.jupiter.api.Test;

/**
 * Found by {@link RandomCodeFuzzTest} (ring 3 code rewrote the user-writable page tables so the IDT's page
 * mapped MMIO): a fault whose delivery reads the IDT, GDT, TSS or stack from device memory once ended the
 * run with an interpreter error. Delivery cannot be run again like an instruction (it has pushed state), so
 * it is a guest reset, as the triple fault a real CPU would soon reach there.
 */
class EventDeliveryFromMmioTest {
    private static final byte[] UD2 = {0x0f, 0x0b};
    private static final long MMIO = 0xc000_0000L;

    @Test
    void aFaultWhoseIdtLiesInDeviceMemoryResetsTheGuestWithAReason() throws Exception {
        try (PayloadMachine machine = PayloadMachine.create(new InterpEngine())) {
            LongModeSandbox.writeTables(machine.memory);
            machine.memory.write(LongModeSandbox.PAYLOAD, UD2);
            SpecialRegisters s = LongModeSandbox.specialRegisters(machine.vcpu.specialRegisters(), Ring.KERNEL);
            machine.vcpu.setSpecialRegisters(new SpecialRegisters(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                    s.ldt(), s.gdt(), new DescriptorTable(MMIO, 0xfff), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(),
                    s.efer(), s.apicBase()));
            machine.vcpu.setRegisters(Registers.builder().rip(LongModeSandbox.PAYLOAD).rsp(LongModeSandbox.STACK_TOP)
                    .rflags(Registers.RFLAGS_RESERVED).build());

            VcpuExit exit = machine.vcpu.run();
            VcpuExit.Shutdown shutdown = assertInstanceOf(VcpuExit.Shutdown.class, exit);
            assertTrue(shutdown.reason().contains("event delivery reads device memory at 0xc00000"), shutdown.reason());
        }
    }
}
