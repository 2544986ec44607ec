package io.vmguard.vmi.linux;

/**
 * One 16-byte IDT gate (arch/x86/include/asm/desc_defs.h {@code struct gate_struct}) and the symbol its
 * target resolves to.
 *
 * @param type 0xE interrupt gate, 0xF trap gate
 * @param ist  interrupt stack table index, 0 for none
 */
public record IdtGate(int vector, long target, int selector, int type, int dpl, int ist, boolean present, String symbol) {
    public static final int INTERRUPT_GATE = 0xe;
    public static final int TRAP_GATE = 0xf;

    /** Decodes a gate from its 16 bytes at {@code at}. */
    static IdtGate decode(int vector, byte[] bytes, int at, SymbolNamer namer) {
        int bits = Bytes.unsignedShortAt(bytes, at + 4);
        long target = Bytes.unsignedShortAt(bytes, at) | (long) Bytes.unsignedShortAt(bytes, at + 6) << 16
                | Integer.toUnsignedLong(Bytes.intAt(bytes, at + 8)) << 32;
        boolean present = (bits & 0x8000) != 0;
        return new IdtGate(vector, target, Bytes.unsignedShortAt(bytes, at + 2), (bits >> 8) & 0x1f, (bits >> 13) & 3,
                bits & 7, present, present ? namer.describe(target) : "");
    }

    /** Names addresses for reports. */
    @FunctionalInterface
    interface SymbolNamer {
        String describe(long address);
    }
}
