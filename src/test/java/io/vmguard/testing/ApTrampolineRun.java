package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.VcpuExit;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * src/test/payloads/ap-trampoline.S on any engine: the vCPU put in the state a startup IPI with vector
 * {@link #SIPI_VECTOR} leaves (real mode at 0800:0000), run to its HLT in 64-bit mode, and every stage's
 * marker checked. The same payload and checks for the interpreter and for KVM, which runs it natively.
 */
public final class ApTrampolineRun {
    public static final int SIPI_VECTOR = 0x08;
    private static final long WATCHDOG_MILLIS = 10_000;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private ApTrampolineRun() {}

    /** CS after a startup IPI with {@code vector}: selector vector << 8, base vector << 12, 64 KiB, real mode. */
    public static Segment startupCs(int vector) {
        return new Segment((long) vector << 12, 0xffff, vector << 8, 0xb, true, 0, false, true, false, false, false, false);
    }

    /** Loads the payload at 0x8000, enters it as an application processor would, runs it and checks it. */
    public static void runAndCheck(PayloadMachine machine) throws Exception {
        Payload payload = PayloadAssembler.assemble("ap-trampoline", (long) SIPI_VECTOR << 12);
        machine.memory.write(payload.origin(), payload.code());
        SpecialRegisters powerOn = machine.vcpu.specialRegisters();
        Segment data = new Segment(0, 0xffff, 0, 0x3, true, 0, false, true, false, false, false, false);
        Segment tr = new Segment(0, 0xffff, 0, 0xb, true, 0, false, false, false, false, false, false);
        Segment ldt = new Segment(0, 0xffff, 0, 0x2, true, 0, false, false, false, false, false, false);
        machine.vcpu.setSpecialRegisters(new SpecialRegisters(startupCs(SIPI_VECTOR), data, data, data, data, data, tr, ldt,
                new DescriptorTable(0, 0xffff), new DescriptorTable(0, 0xffff), 0x6000_0010L, 0, 0, 0, 0, 0, powerOn.apicBase()));
        machine.vcpu.setRegisters(Registers.builder().rip(0).rflags(Registers.RFLAGS_RESERVED).build());

        // A payload that loops (or an engine stuck in it) ends the run with Interrupted, not a hung test.
        Thread watchdog = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(WATCHDOG_MILLIS);
                machine.vcpu.requestExit();
            } catch (InterruptedException e) {
                // the run ended first
            }
        });
        VcpuExit exit;
        try {
            exit = machine.vcpu.run();
        } finally {
            watchdog.interrupt();
        }

        long rip = machine.vcpu.registers().rip();
        // The interpreter returns Halt; KVM halts in the kernel (in-kernel irqchip) until the watchdog's pause.
        boolean halted = exit instanceof VcpuExit.Halt || exit instanceof VcpuExit.Interrupted && rip == payload.symbol("done");
        assertTrue(halted, () -> "ended with " + exit + " at rip 0x" + Long.toHexString(rip));
        SpecialRegisters end = machine.vcpu.specialRegisters();
        assertEquals(0x3436343634363436L, machine.vcpu.registers().rax(), "64-bit marker in RAX");
        assertEquals(0x3436343634363436L, read64(machine, payload.symbol("long_marker")), "64-bit marker, RIP-relative");
        assertEquals(0x4d4f4343, read32(machine, payload.symbol("compat_marker")), "compatibility-mode marker");
        assertEquals(0x33323332, read32(machine, payload.symbol("prot_marker")), "32-bit marker (moffs32)");
        assertEquals(0x4d494952, read32(machine, payload.symbol("real_marker")), "DX and CX from the real-mode INT 30h handler");
        assertEquals(0x5678_1234, read32(machine, payload.symbol("real_bx")), "BX and SI after PUSHA/POPA");
        assertEquals(1, read32(machine, payload.symbol("tr_lock")), "the real-mode stack lock taken (LOCK BTS in real mode)");
        assertEquals(0x10, end.cs().selector());
        assertTrue(end.cs().l(), "CS.L: 64-bit mode");
        long lmaLme = SpecialRegisters.EFER_LMA | SpecialRegisters.EFER_LME;
        assertEquals(lmaLme, end.efer() & lmaLme, "EFER.LME and LMA");
        assertEquals(0x80050033L, end.cr0(), "CR0 as startup_32 left it (PG WP AM NE ET MP PE)");
    }

    private static int read32(PayloadMachine machine, long address) {
        return machine.memory.slice(address, 4).get(U32, 0);
    }

    private static long read64(PayloadMachine machine, long address) {
        return machine.memory.slice(address, 8).get(U64, 0);
    }
}
