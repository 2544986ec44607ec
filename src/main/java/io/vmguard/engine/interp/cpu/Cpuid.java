package io.vmguard.engine.interp.cpu;

/**
 * What CPUID tells the guest about the interpreted CPU. It advertises only what the interpreter
 * implements: an x86-64 CPU with SSE2, no AVX/XSAVE, no PCID, an xAPIC (no x2APIC) with a TSC-deadline
 * timer, and an invariant TSC at 1 GHz.
 *
 * <p>Frequencies, for every way Linux looks: leaf 0x15 (crystal 1 GHz, TSC = crystal; Linux also takes
 * the crystal as the APIC timer's clock, which it is), leaf 0x16 (base, maximum and bus 1000 MHz), and
 * the timing leaf 0x40000010 (TSC and APIC bus in kHz) that VMware and KVM hosts offer.
 *
 * <p>The hypervisor leaf says "KVMKVMKVM": Linux enables kvmclock only under that signature, and kvmclock
 * gives it the TSC frequency and a preset delay-loop calibration without timing anything against the PIT.
 * Leaf 0x40000001 offers only what the platform implements: kvmclock through the new MSRs
 * (CLOCKSOURCE2), its stable bit, and NOP_IO_DELAY (port 0x80 delays are pointless here).
 */
public final class Cpuid {
    /** TSC ticks per second: the TSC counts VM nanoseconds. */
    static final long TSC_HZ = io.vmguard.engine.interp.platform.Platform.TSC_HZ;
    private static final long APIC_BUS_HZ = io.vmguard.engine.interp.platform.Platform.APIC_BUS_HZ;

    private static final int MAX_BASIC_LEAF = 0x16;
    private static final int MAX_HYPERVISOR_LEAF = 0x4000_0010;
    private static final int MAX_EXTENDED_LEAF = 0x8000_0008;

    // Leaf 1 EDX
    private static final int FPU = 1, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6, CX8 = 1 << 8, SEP = 1 << 11;
    private static final int APIC = 1 << 9, PGE = 1 << 13, CMOV = 1 << 15, PAT = 1 << 16, CLFLUSH = 1 << 19;
    private static final int FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26;
    // Leaf 1 ECX
    private static final int CX16 = 1 << 13, POPCNT = 1 << 23, TSC_DEADLINE = 1 << 24, HYPERVISOR = 1 << 31;
    // Leaf 6 EAX: the APIC timer keeps running in deep C-states (Linux needs it to trust the APIC timer)
    private static final int ARAT = 1 << 2;
    // Leaf 0x40000001 EAX: KVM paravirtual features
    private static final int KVM_NOP_IO_DELAY = 1 << 1, KVM_CLOCKSOURCE2 = 1 << 3, KVM_CLOCKSOURCE_STABLE = 1 << 24;
    // Leaf 0x80000007 EDX: invariant TSC
    private static final int INVARIANT_TSC = 1 << 8;
    // Leaf 0x80000001
    private static final int LAHF_LM = 1, ABM = 1 << 5;
    /**
     * Leaf 7 subleaf 0: enhanced REP MOVSB/STOSB (EBX bit 9), fast short REP MOVSB (EDX bit 4), and
     * IA32_ARCH_CAPABILITIES present (EDX bit 29).
     */
    private static final int ERMS = 1 << 9, FSRM = 1 << 4, ARCH_CAPABILITIES = 1 << 29;
    /** Leaf 7 subleaf 1 EAX: fast short REP STOSB (bit 11). */
    private static final int FSRS = 1 << 11;
    /** Leaf 7 subleaf 0 EAX: the highest subleaf of leaf 7 (subleaf 1 carries FSRS). */
    private static final int MAX_LEAF7_SUBLEAF = 1;
    private static final int SYSCALL = 1 << 11, NX = 1 << 20, RDTSCP = 1 << 27, LM = 1 << 29;

    /**
     * IA32_ARCH_CAPABILITIES (MSR 0x10a): the speculative-execution bugs this CPU does not have. An interpreter
     * executes nothing speculatively, so it has none of them, and the MSR says so for every bug that has a "not
     * affected" bit. Without the MSR, Linux judges by family and model, and under a hypervisor assumes the worst:
     * on this model a distribution kernel turns on page-table isolation (a CR3 load at every system call and
     * interrupt, and a W+X walk of the user page tables at boot), VERW buffer clearing on every return to user
     * space, and ITS return thunks. QEMU's TCG guests get none of these (its default CPU is an AMD model).
     * Spectre v1 and v2 stay (they have no "not affected" bit short of enhanced IBRS, which would need
     * IA32_SPEC_CTRL). Host-CPU side channels through vmguard's own code are not the guest kernel's to mitigate:
     * page-table isolation inside the guest would not close them.
     */
    public static final long ARCH_CAPABILITIES_MSR = 1L // RDCL_NO: no Meltdown, so no page-table isolation
            | 1L << 3 // SKIP_L1DFL_VMENTRY: no L1D flush needed before a nested guest runs
            | 1L << 4 // SSB_NO: no speculative store bypass
            | 1L << 5 // MDS_NO: no microarchitectural data sampling
            | 1L << 6 // PSCHANGE_MC_NO: no machine check on a page size change (iTLB multihit)
            | 1L << 8 // TAA_NO: no TSX asynchronous abort
            | 1L << 13 | 1L << 14 | 1L << 15 // SBDR_SSDP_NO, FBSDP_NO, PSDP_NO: no MMIO stale data
            | 1L << 20 // BHI_NO: no branch history injection
            | 1L << 24 // PBRSB_NO: no post-barrier RSB predictions
            | 1L << 26 // GDS_NO: no gather data sampling
            | 1L << 27 // RFDS_NO: no register file data sampling
            | 1L << 62; // ITS_NO: no indirect target selection (a bit VMMs synthesize)

    /**
     * Family 6, model 0x3a, stepping 9: an x86-64 without AVX-era assumptions. CPUID leaf 1 reports it in
     * EAX, and INIT leaves it in EDX.
     */
    static final int SIGNATURE = 0x000306a9;

    private Cpuid() {}

    /** Fills {@code out} with EAX, EBX, ECX, EDX for leaf {@code leaf}, subleaf {@code subleaf}. */
    public static void query(int leaf, int subleaf, int apicId, int[] out) {
        out[0] = out[1] = out[2] = out[3] = 0;
        switch (leaf) {
            case 0 -> vendor(MAX_BASIC_LEAF, "GenuineIntel", out);
            case 1 -> {
                out[0] = SIGNATURE;
                out[1] = (apicId << 24) | (1 << 16) | (8 << 8);
                out[2] = CX16 | POPCNT | TSC_DEADLINE | HYPERVISOR;
                out[3] = FPU | PSE | TSC | MSR | PAE | CX8 | SEP | APIC | PGE | CMOV | PAT | CLFLUSH | FXSR | SSE | SSE2;
            }
            case 6 -> out[0] = ARAT;
            case 7 -> { // structured extended features, subleaves 0 and 1
                // Fast string operations, as the KVM engine passes through from hosts that have them: Linux then
                // copies and clears with REP MOVSB/STOSB (memcpy, copy_user), which StringOps moves in whole runs.
                // FSRS makes Linux 6.12's memset and clear_user one REP STOSB instead of memset_orig's loop of
                // 8-byte stores (each an interpreted instruction and MMU write) or rep_stos_alternative.
                switch (subleaf) {
                    case 0 -> {
                        out[0] = MAX_LEAF7_SUBLEAF;
                        out[1] = ERMS;
                        out[3] = FSRM | ARCH_CAPABILITIES;
                    }
                    case 1 -> out[0] = FSRS;
                    default -> { }
                }
            }
            case 0x15 -> { // TSC/crystal ratio: TSC = crystal * EBX / EAX; the crystal also clocks the APIC timer
                out[0] = 1;
                out[1] = (int) (TSC_HZ / APIC_BUS_HZ);
                out[2] = (int) APIC_BUS_HZ;
            }
            case 0x16 -> { // base and maximum frequency, bus (reference) frequency, in MHz
                out[0] = (int) (TSC_HZ / 1_000_000);
                out[1] = (int) (TSC_HZ / 1_000_000);
                out[2] = (int) (APIC_BUS_HZ / 1_000_000);
            }
            case 0x4000_0000 -> { // hypervisor leaf: highest hypervisor leaf, signature in EBX, ECX, EDX
                byte[] bytes = java.util.Arrays.copyOf("KVMKVMKVM".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 12);
                out[0] = MAX_HYPERVISOR_LEAF;
                out[1] = le(bytes, 0);
                out[2] = le(bytes, 4);
                out[3] = le(bytes, 8);
            }
            case 0x4000_0001 -> out[0] = KVM_NOP_IO_DELAY | KVM_CLOCKSOURCE2 | KVM_CLOCKSOURCE_STABLE;
            case 0x4000_0010 -> { // timing: TSC and APIC bus frequencies in kHz
                out[0] = (int) (TSC_HZ / 1000);
                out[1] = (int) (APIC_BUS_HZ / 1000);
            }
            case 0x8000_0000 -> out[0] = MAX_EXTENDED_LEAF;
            case 0x8000_0007 -> out[3] = INVARIANT_TSC;
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
