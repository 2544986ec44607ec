package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class IdtGateTest {
    @Test
    void aGateDecodesItsSplitTargetSelectorTypeDplAndIst() {
        long target = 0xffff_ffff_81a0_1234L;
        byte[] gate = gate(target, 0x10, 0xee00 | 3); // present, DPL 3, interrupt gate, IST 3
        IdtGate decoded = IdtGate.decode(0x80, gate, 0, a -> a == target ? "asm_exc_int3" : "?");
        assertEquals(new IdtGate(0x80, target, 0x10, IdtGate.INTERRUPT_GATE, 3, 3, true, "asm_exc_int3"), decoded);
    }

    @Test
    void aNotPresentGateIsNotNamed() {
        IdtGate decoded = IdtGate.decode(7, gate(0, 0, 0x0f00), 0, a -> "named");
        assertEquals(new IdtGate(7, 0, 0, IdtGate.TRAP_GATE, 0, 0, false, ""), decoded);
    }

    static byte[] gate(long target, int selector, int bits) {
        byte[] g = new byte[16];
        put16(g, 0, (int) target);
        put16(g, 2, selector);
        put16(g, 4, bits);
        put16(g, 6, (int) (target >>> 16));
        put16(g, 8, (int) (target >>> 32));
        put16(g, 10, (int) (target >>> 48));
        return g;
    }

    private static void put16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }
}
