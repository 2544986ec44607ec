package io.vmguard.arch.x86;

/** Architectural constants of the local APIC that boot code needs (IA32_APIC_BASE). */
public final class LocalApic {
    public static final long DEFAULT_BASE = 0xfee0_0000L;
    public static final long BASE_BSP = 1L << 8;
    public static final long BASE_ENABLE = 1L << 11;

    private LocalApic() {}
}
