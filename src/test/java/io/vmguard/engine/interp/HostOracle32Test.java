package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * The 32-bit host oracle on its own, with known values (see {@link HostOracle32}): 16-bit code really runs
 * with 16-bit operand and address size in its LDT segments, the data segment's B bit decides the stack-address
 * size as asked, and an exception comes back as its vector and the offset of the instruction that raised it.
 */
class HostOracle32Test {
    private static final byte[] DATA = new byte[512];

    /** The host's SS:ESP kept in the data segment and given back, as LegacyModeDifferentialTest's code does. */
    private static byte[] sixteenBit(String body) throws Exception {
        return ModeRig.assemble(".code16", "movw %ss, 0xdff4\nmovl %esp, 0xdff0\nmovw %ds, %ax\nmovw %ax, %ss\n" + body
                + "\nmovw 0xdff4, %ss\nmovl 0xdff0, %esp\nlretl\n");
    }

    private static int resultWord(byte[] out, int index) {
        int at = 4 * index;
        return (out[at] & 0xff) | (out[at + 1] & 0xff) << 8 | (out[at + 2] & 0xff) << 16 | (out[at + 3] & 0xff) << 24;
    }

    @Test
    void sixteenBitCodeRunsWithSixteenBitOperandsAndAddresses() throws Exception {
        assumeTrue(HostOracle32.available(), HostOracle32.UNAVAILABLE);
        byte[] out = HostOracle32.run(sixteenBit("""
                movl $0x1234ffff, %eax
                incw %ax
                movl %eax, 0xe000
                movw $0xfffe, %bx
                movw $4, %si
                movw $0x5a5a, (%bx,%si)
                movw 2, %cx
                movl %ecx, 0xe004
                movl $0xf000, %edi
                movl $0x11223344, 4(%di)
                """), DATA, HostOracle32.Segments.CODE16_STACK32);
        assertEquals(0x1234_0000, resultWord(out, 0), "INC AX leaves the upper half alone");
        assertEquals(0x5a5a, resultWord(out, 1) & 0xffff, "BX+SI wraps at 64 KiB");
        assertEquals(0x11223344, resultWord(out, 4000 / 4 + 1), "the data area comes back");
    }

    @Test
    void theDataSegmentsBBitSetsTheStackAddressSize() throws Exception {
        assumeTrue(HostOracle32.available(), HostOracle32.UNAVAILABLE);
        byte[] push = sixteenBit("movl $0, %esp\npushw $0x1234\nmovl %esp, 0xe000\npopw %ax\nmovl $0x5800, %esp");
        assertEquals(0xfffe, resultWord(HostOracle32.run(push, DATA, HostOracle32.Segments.CODE16_STACK16), 0), "SP wraps, as in real mode");
        AssertionError wide = assertThrows(AssertionError.class, () -> HostOracle32.run(push, DATA, HostOracle32.Segments.CODE16_STACK32));
        assertTrue(wide.getMessage().contains("exception 12 "), "ESP 0xfffffffe is past the segment's limit: #SS. " + wide.getMessage());
    }

    @Test
    void exceptionsComeBackAsTheirVectorAndOffset() throws Exception {
        assumeTrue(HostOracle32.available(), HostOracle32.UNAVAILABLE);
        AssertionError ud = assertThrows(AssertionError.class,
                () -> HostOracle32.run(ModeRig.assemble(".code16", "nop\nnop\nud2"), DATA, HostOracle32.Segments.CODE16_STACK16));
        assertTrue(ud.getMessage().contains("exception 6 in the code at offset 0x2 (bytes 0f 0b"), ud.getMessage());
        AssertionError gp = assertThrows(AssertionError.class,
                () -> HostOracle32.run(ModeRig.assemble(".code16", "movw 0xffff, %ax"), DATA, HostOracle32.Segments.CODE16_STACK32));
        assertTrue(gp.getMessage().contains("exception 13 in the code at offset 0x0"), "a word across the 64 KiB limit: #GP. " + gp.getMessage());
        AssertionError flat = assertThrows(AssertionError.class,
                () -> HostOracle32.run(ModeRig.assemble(".code32", "nop\nud2"), DATA));
        assertTrue(flat.getMessage().contains("exception 6 in the code at offset 0x1 "), flat.getMessage());
    }
}
