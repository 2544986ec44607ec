package io.vmguard.engine.interp;

/**
 * What CPUID tells the guest about the interpreted CPU. It advertises only what the interpreter
 * implements: an x86-64 CPU with SSE2, no AVX/XSAVE, no PCID; the TSC runs at 1 GHz (leaf 0x15), and the
 * hypervisor leaf names vmguard.
 */
final class Cpuid {
    /** TSC ticks per second: the TSC counts host nanoseconds. */
    static final long TSC_HZ = 1_000_000_000L;

    private static final int MAX_BASIC_LEAF = 0x15;
    private static final int MAX_EXTENDED_LEAF = 0x8000_0008;

    // Leaf 1 EDX
    private static final int FPU = 1, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6, CX8 = 1 << 8;
    private static final int APIC = 1 << 9, PGE = 1 << 13, CMOV = 1 << 15, PAT = 1 << 16, CLFLUSH = 1 << 19;
    private static final int FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26;
    // Leaf 1 ECX
    private static final int CX16 = 1 << 13, POPCNT = 1 << 23, HYPERVISOR = 1 << 31;
    // Leaf 0x80000001
    private static final int LAHF_LM = 1, ABM = 1 << 5;
    private static final int SYSCALL = 1 << 11, NX = 1 << 20, RDTSCP = 1 << 27, LM = 1 << 29;

    private Cpuid() {}

    /** Fills {@code out} with EAX, EBX, ECX, EDX for leaf {@code leaf}, subleaf {@code subleaf}. */
    static void query(int leaf, int subleaf, int apicId, int[] out) {
        out[0] = out[1] = out[2] = out[3] = 0;
        switch (leaf) {
            case 0 -> vendor(MAX_BASIC_LEAF, "GenuineIntel", out);
            case 1 -> {
                out[0] = 0x000306a9; // family 6, model 0x3a, stepping 9: an x86-64 without AVX-era assumptions
                out[1] = (apicId << 24) | (1 << 16) | (8 << 8);
                out[2] = CX16 | POPCNT | HYPERVISOR;
                out[3] = FPU | PSE | TSC | MSR | PAE | CX8 | APIC | PGE | CMOV | PAT | CLFLUSH | FXSR | SSE | SSE2;
            }
            case 0x15 -> { // TSC/crystal ratio: TSC = crystal * EBX / EAX
                out[0] = 1;
                out[1] = 1;
                out[2] = (int) TSC_HZ;
            }
            case 0x4000_0000 -> { // hypervisor leaf: signature in EBX, ECX, EDX
                byte[] bytes = "vmguardintrp".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                out[0] = 0x4000_0000;
                out[1] = le(bytes, 0);
                out[2] = le(bytes, 4);
                out[3] = le(bytes, 8);
            }
            case 0x8000_0000 -> out[0] = MAX_EXTENDED_LEAF;
            case 0x8000_0001 -> {
                out[2] = LAHF_LM | ABM;
                out[3] = SYSCALL | NX | RDTSCP | LM;
            }
            case 0x8000_0002, 0x8000_0003, 0x8000_0004 -> brand(leaf - 0x8000_0002, out);
            case 0x8000_0008 -> out[0] = 0x3028; // 40 physical, 48 linear address bits
            default -> { }
        }
    }

    private static void vendor(int max, String name, int[] out) {
        byte[] bytes = java.util.Arrays.copyOf(name.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 12);
        out[0] = max;
        out[1] = le(bytes, 0);
        out[3] = le(bytes, 4);
        out[2] = le(bytes, 8);
    }

    private static void brand(int part, int[] out) {
        byte[] bytes = java.util.Arrays.copyOf("vmguard x86-64 interpreter".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 48);
        for (int i = 0; i < 4; i++) {
            out[i] = le(bytes, part * 16 + i * 4);
        }
    }

    private static int le(byte[] bytes, int offset) {
        return (bytes[offset] & 0xff) | (bytes[offset + 1] & 0xff) << 8 | (bytes[offset + 2] & 0xff) << 16 | (bytes[offset + 3] & 0xff) << 24;
    }
}
