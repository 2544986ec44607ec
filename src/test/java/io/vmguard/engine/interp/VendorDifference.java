package io.vmguard.engine.interp;

import io.vmguard.testing.HostCpu;
import java.util.EnumMap;
import java.util.Map;

/**
 * The documented places where AMD and Intel processors architecturally differ and a differential test can see
 * it. The interpreter models an Intel CPU (its CPUID vendor is GenuineIntel) and must keep doing so; the
 * oracle of the differential tests is whatever CPU runs this JVM ({@link HostCpu}). On an AMD host, and only
 * there, a case or record that a test marks with one of these is skipped or compared with exactly the
 * documented AMD outcome mapped onto the Intel one (see each constant); every other disagreement still fails.
 * On an Intel (or unknown) host the marks change nothing. The harnesses print how many cases each rule took.
 *
 * <p>Manuals: Intel SDM = Intel 64 and IA-32 Architectures Software Developer's Manual; APM = AMD64
 * Architecture Programmer's Manual.
 */
enum VendorDifference {
    /**
     * A REP/REPE/REPNE string instruction (MOVS STOS LODS SCAS CMPS, and INS OUTS) with the 0x67
     * address-size prefix in 64-bit mode and ECX = 0, so that no iteration runs.
     *
     * <p>Intel: with a 32-bit address size the count register is ECX (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ",
     * 64-bit mode), and Intel processors write ECX back even when it starts at 0, so the 32-bit write is
     * zero-extended (SDM Vol. 1 3.4.1.1: 32-bit results are zero-extended to 64 bits) and RCX[63:32] becomes 0;
     * the fast-string MOVS and STOS also write ESI/EDI back. The SDM's pseudocode ("WHILE CountReg != 0")
     * says nothing of that corner; the interpreter models what Intel hardware does (the differential tests
     * were written against it). AMD: the repeat prefixes test rCX before the first iteration and a zero count
     * executes nothing (APM Vol. 3 "REP"), so RCX, RSI and RDI keep all 64 bits. REP INS/OUTS exit to KVM,
     * whose instruction emulator does the same per the vCPU's CPUID vendor (Linux arch/x86/kvm/emulate.c,
     * string_registers_quirk(): "Intel CPUs mask the counter and pointers ... when ECX is zero", applied only
     * to a GenuineIntel vCPU; the vCPU here gets the host's vendor): RCX zeroed on Intel, kept on AMD.
     *
     * <p>Normalised, not skipped: for RCX and the instruction's pointer registers, a case agrees when the
     * host left the register exactly as seeded and the interpreter holds the seed or its zero-extended low
     * 32 bits; every other register, the flags, the memory and the exception are compared as usual.
     */
    ADDR32_REP_STRING_ZERO_COUNT(false),

    /**
     * A near CALL, RET, JMP or Jcc with the 0x66 operand-size prefix in 64-bit mode.
     *
     * <p>Intel: "In 64-bit mode, the operand size for all near branches (CALL, RET, JCC, JCXZ, JMP, and LOOP)
     * is forced to 64 bits ... regardless of operand size prefixes (operand size prefixes are silently
     * ignored)" (SDM Vol. 1 6.3.7 "Branch Functions in 64-Bit Mode"; the f64 superscript of these opcodes in
     * the SDM Vol. 2 opcode map, Appendix A). AMD: near branches default to a 64-bit operand size and 0x66
     * overrides it to 16 bits (APM Vol. 1 3.7.9 "Branching in 64-Bit Mode", Table 3-9 "Near Branches in
     * 64-Bit Mode": default 64, possible override 16); the effective operand size decides the truncation of
     * the instruction pointer (IP: 16 bits), the size of what CALL pushes and RET pops and of the RSP
     * adjustment, and a rel32 branch (E8, E9, 0F 8x) takes a rel16 instead, so it even has another length.
     *
     * <p>Skipped: on AMD the case goes on at a 16-bit address in the sandbox's low memory and runs whatever
     * lies there, which is no outcome to compare (and may write anywhere), so its code is not even run.
     */
    OPERAND_SIZE_PREFIX_ON_NEAR_BRANCH(true),

    /**
     * MXCSR_MASK, the mask of writable MXCSR bits that FXSAVE stores at bytes 28-31 of its image.
     *
     * <p>Intel: 0x0000FFFF on every processor with DAZ (SDM Vol. 1 11.6.6 "Guidelines for Writing to the
     * MXCSR Register": bits clear in MXCSR_MASK are reserved; a stored 0 means the default 0x0000FFBF). AMD:
     * MXCSR bit 17, MM (misaligned exception mask), is writable on processors with misaligned SSE mode
     * (CPUID Fn8000_0001_ECX[MisAlignSse] = 1, e.g. every EPYC), so the mask FXSAVE stores is 0x0002FFFF (APM
     * Vol. 1 4.2.2 "MXCSR Register"; the mask field in "FXSAVE and FXRSTOR Instructions", APM Vol. 2). The
     * interpreter models Intel's 0x0000FFFF.
     *
     * <p>Normalised: the stored mask agrees when the host's is exactly 0x0002FFFF and the interpreter's is
     * exactly 0x0000FFFF; the rest of the record is compared as usual.
     */
    FXSAVE_MXCSR_MASK_MM(false);

    private final boolean skipped;

    VendorDifference(boolean skipped) {
        this.skipped = skipped;
    }

    /** Whether a marked case is left out where the rule applies (else its host outcome is normalised). */
    boolean skipped() {
        return skipped;
    }

    /** Whether this rule applies here: the host CPU is an AMD one (the interpreter is always Intel). */
    boolean appliesOnThisHost() {
        return HostCpu.isAmd();
    }

    /** Per rule, the cases (or records) it took in one run: the harnesses print it with their counts. */
    static final class Tally {
        private final Map<VendorDifference, Integer> counts = new EnumMap<>(VendorDifference.class);

        void add(VendorDifference d) {
            counts.merge(d, 1, Integer::sum);
        }

        int total() {
            return counts.values().stream().mapToInt(Integer::intValue).sum();
        }

        @Override
        public String toString() {
            if (!HostCpu.isAmd()) {
                return "host " + HostCpu.vendorId() + ": no AMD/Intel vendor rule applies";
            }
            StringBuilder text = new StringBuilder("host " + HostCpu.vendorId() + ", excluded by AMD/Intel vendor rules: " + total());
            counts.forEach((d, n) -> text.append(text.indexOf("[") < 0 ? " [" : ", ").append(d.name())
                    .append(d.skipped ? ": " + n + " skipped" : ": " + n + " normalised"));
            return text.append(total() == 0 ? "" : "]").toString();
        }
    }
}
