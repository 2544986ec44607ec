package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.kvm.KvmEngine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.Payload;
import io.vmguard.testing.PayloadAssembler;
import io.vmguard.testing.PayloadHarness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Differential testing of the interpreter against the host CPU: the same machine code runs on the interpreter
 * and on each oracle of the run ({@link HostOracle#available()}), and everything it can observe must come out
 * the same. The oracles are the host CPU in a Linux process ({@link HostOracle}, on every x86-64 Linux host,
 * no KVM needed) and KVM's guest ring 3 (where /dev/kvm opens), which also runs natively on the host CPU;
 * {@code -Dvmguard.oracle=host|kvm} keeps one of them.
 *
 * <p>A batch of {@link Case}s becomes one payload, assembled with GNU as. Each case is
 * <pre>
 *   prologue: POPFQ the seed RFLAGS, POP the 16 GPRs from the case's seed block (RSP last)
 *   body:     the instructions under test (AT&amp;T syntax)
 *   epilogue: store all 16 GPRs and PUSHFQ into the case's result block
 * </pre>
 * and the cases run one after another in ring 3; the last one writes EXIT_PORT. Then the harness compares,
 * per case, the GPRs, RFLAGS (less the flags the case declares architecturally undefined), the case's
 * stack and scratch memory, and the exception it raised, if any.
 *
 * <p>Exceptions do not end the batch: every vector 0-31 has a ring-0 handler that records vector, RIP
 * and error code in the case's fault record and IRETQs to the case's epilogue, so a faulting case is
 * compared like any other (its registers as of the fault). The host oracle runs the same assembled payload
 * at the same addresses in its own process, its signal handler doing what the ring-0 handler does, with
 * the exception the CPU reported in the signal context; where the Linux kernel reports an exception
 * differently from a bare ring 3 a {@link HostRule} maps exactly that, counted, and port I/O, which a
 * process cannot do, is compared with KVM only ({@link Case#usesPorts}).
 *
 * <p>Guest memory: the usual {@link LongModeSandbox} layout with the payload at 0x100000, then from
 * {@link #DATA} a control page and one 4 KiB page per case:
 * <pre>
 *   +0x000 seed block: RFLAGS, RAX RCX RDX RBX RBP RSI RDI R8-R15, RSP (the order the prologue pops)
 *   +0x100 result block, same layout
 *   +0x200 fault record: vector (-1: none), RIP, error code, CR2
 *   +0x400 stack (RSP starts at +0x800 unless the case says otherwise), compared
 *   +0x800 scratch memory for memory operands, compared
 * </pre>
 * Seed registers, flags and memory are random by default ({@link #value()}); cases override what they need.
 *
 * <p>The oracle is the host CPU, the interpreter an Intel one. A case that can show one of the documented
 * AMD/Intel differences is marked with it ({@link Case#vendorSpecific}); on an AMD host, and only there, it
 * is skipped or its host outcome normalised as that {@link VendorDifference} says, and the run reports how
 * many cases each rule took. Every other disagreement fails on every host.
 *
 * <p>KVM's RFLAGS.NT is no oracle once the guest has left ring 3 for the host (the host process keeps NT;
 * this rule is KVM's only): this host's /dev/kvm (kvm_pvm, a
 * software hypervisor inside a VM that runs guest ring 3 at the host CPU's own ring 3, so that every VM exit
 * is an exception or interrupt into the host kernel) gives the guest back NT = 0 after an exit, while it
 * keeps every other flag. Measured in ring 3 with {@code push $0x4000; popfq; X; pushfq}: NT reads back set
 * with X a NOP or a jump into code on a new page (4 KiB or 32 KiB aligned); clear with X a CPUID (leaf 0 or
 * 0x80000000), an IN or OUT (port 0x80), a first read of a page the guest had not touched (a shadow-paging
 * fault), or a 200M-iteration loop (timer interrupts). IntegerDifferentialTest.stackInstructions lost it so
 * with seeds 3 and 7, between a POPF and the epilogue's PUSHF, where the code crossed into the pages at
 * 0x128000 and 0x118000 (no other exit can lie there; why those crossings exited and the probe's did not was
 * not established). So a case whose code sets NT says
 * so ({@link Case#setsNt}), and there, and only there, the host's NT = 0 against the interpreter's NT = 1 is
 * accepted (in RFLAGS and in the flag images the case names); NT the other way round and every other bit are
 * compared, the run reports how many cases the rule took, and the interpreter's NT is checked on its own
 * with known values (IntegerDifferentialTest.ntStaysSetOnTheInterpreter).
 */
public final class DifferentialHarness {
    static final long DATA = 0x1000000;
    static final int STRIDE = 0x1000;
    /**
     * 64 KiB after the control page that any case may use for long string operations: random at the start,
     * shared by all cases (in order) and compared as a whole at the end.
     */
    static final long BULK = DATA + STRIDE;
    static final int BULK_SIZE = 0x10000;
    /** FS and GS bases for the whole batch (set through the engines' special registers; GS wraps around). */
    static final long FS_BASE = 0x40000, GS_BASE = -0x10000;
    /** Where the first case's page is. */
    private static final long FIRST_CASE = BULK + BULK_SIZE;
    static final int SEED = 0x000, RESULT = 0x100, FAULT = 0x200, STACK = 0x400, STACK_TOP = 0x800, SCRATCH = 0x800;
    /** The compared memory of a case: stack and scratch. */
    static final int MEMORY = STACK, MEMORY_SIZE = STRIDE - STACK;
    /** Control cells at {@link #DATA}: where the prologue continues, and the current case's fault record and epilogue. */
    private static final int CONTINUE = 0, FAULT_RECORD = 8, RESUME = 16;
    private static final Duration RUN_LIMIT = Duration.ofSeconds(40);

    static final String[] R64 = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};
    static final String[] R32 = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
            "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
    static final String[] R16 = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
            "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"};
    static final String[] R8 = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
            "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"};
    /** AH, CH, DH, BH: byte registers 4-7 of an instruction without REX. */
    static final String[] HIGH8 = {"ah", "ch", "dh", "bh"};
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    static final long CF = 1, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, DF = 1 << 10, OF = 1 << 11;
    /** Nested task: writable by POPF at any CPL, and lost by this host's KVM across a VM exit (see the class comment). */
    static final long NT = 1 << 14;
    static final long ARITHMETIC = CF | PF | AF | ZF | SF | OF;
    private static final long RESERVED_ONE = 2;
    /**
     * Never compared: this host runs guest ring 3 natively at its own IOPL 0 with interrupts enabled, so
     * PUSHF under KVM shows IF=1 and IOPL=0 whatever the guest loaded (see LongModeSandbox.RFLAGS_IOPL3).
     */
    static final long HOST_FLAGS = (1 << 9) | (3 << 12);

    /** One program under test and its seed state. */
    final class Case {
        final int index;
        final String name;
        String asm;
        final long[] regs = new long[16];
        long rflags;
        final byte[] memory = new byte[MEMORY_SIZE];
        /** Flags the SDM leaves undefined after this case's instructions: not compared. */
        long undefinedFlags;
        /** Bytes of the case's memory (stack and scratch) not compared, by offset from {@link #MEMORY}. */
        final BitSet ignoredMemory = new BitSet();
        /** The base and index registers (a bit per register number) of the operands {@link #mem} made. */
        int addressRegs;
        /** Registers (bit per encoding number) whose final value is architecturally undefined: not compared. */
        int undefinedRegs;
        /** The AMD/Intel difference this case can show, or null; see {@link #vendorSpecific}. */
        VendorDifference vendorDifference;
        /** The registers (bit per encoding number) {@link #vendorDifference} is about, where it is normalised. */
        int vendorRegs;
        /** Whether the case's code does port I/O: see {@link #usesPorts()}. */
        boolean usesPorts;
        /** Whether the case's code sets NT; with {@link #ntImageRegs}: see {@link #setsNt}. */
        boolean setsNt;
        /** Registers (bit per encoding number) holding an RFLAGS image pushed after the case set NT. */
        int ntImageRegs;
        /** The bytes (by offset from {@link #MEMORY}) holding NT in RFLAGS images the case pushed after setting it. */
        final BitSet ntImageBytes = new BitSet();

        private Case(int index, String name, String asm) {
            this.index = index;
            this.name = name;
            this.asm = asm;
            for (int r = 0; r < 16; r++) {
                regs[r] = value();
            }
            regs[RSP] = base() + STACK_TOP;
            rflags = (random.nextLong() & (ARITHMETIC | DF)) | RESERVED_ONE;
            random.nextBytes(memory);
        }

        long base() {
            return FIRST_CASE + (long) index * STRIDE;
        }

        /** The address of the case's scratch memory (2 KiB, random unless set). */
        long scratch() {
            return base() + SCRATCH;
        }

        /** Sets the instructions under test (when they depend on seeds chosen first, such as {@link #mem}). */
        Case code(String text) {
            asm = text;
            return this;
        }

        Case reg(int r, long value) {
            regs[r] = value;
            return this;
        }

        /** Sets the seed's arithmetic flags (and DF) to {@code flags}. */
        Case flags(long flags) {
            rflags = (flags & (ARITHMETIC | DF)) | RESERVED_ONE;
            return this;
        }

        Case undefined(long flags) {
            undefinedFlags |= flags;
            return this;
        }

        Case undefinedReg(int r) {
            undefinedRegs |= 1 << r;
            return this;
        }

        /**
         * Marks the case as one that shows the documented vendor difference {@code d} (about the registers
         * {@code registers}, a bit per encoding number, where {@code d} is normalised): where it applies (an
         * AMD host) the case is skipped or normalised as {@code d} says; elsewhere the mark changes nothing.
         */
        Case vendorSpecific(VendorDifference d, int registers) {
            vendorDifference = d;
            vendorRegs = registers;
            return this;
        }

        Case vendorSpecific(VendorDifference d) {
            return vendorSpecific(d, 0);
        }

        /**
         * Marks the case as one whose code sets NT (a POPF of an image with bit 14 set), with the RFLAGS images
         * it pushes afterwards in the registers {@code imageRegs} (a bit per encoding number) and at the guest
         * addresses {@code imageAddresses} (in its stack or scratch memory). This host's KVM clears NT across
         * any VM exit (see the class comment), which can come anywhere in the case, so here a host NT of 0
         * where the interpreter has 1, in the final RFLAGS or in one of those images, is not a disagreement.
         * The interpreter leaving NT clear where the host has it set still is, and so is any other bit.
         */
        Case setsNt(int imageRegs, long... imageAddresses) {
            setsNt = true;
            ntImageRegs = imageRegs;
            for (long address : imageAddresses) {
                int at = (int) (address + 1 - base() - MEMORY); // NT is bit 6 of the image's second byte
                if (at < 0 || at >= MEMORY_SIZE) {
                    throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is outside case " + index + "'s memory");
                }
                ntImageBytes.set(at);
            }
            return this;
        }

        /**
         * Marks the case as one doing port I/O (IN, OUT, INS, OUTS to the sandbox's ports): the host oracle, a
         * process in ring 3 at IOPL 0 with no I/O permission, can only raise #GP there, so such a case is compared
         * with KVM alone and, on the host oracle, counted in the run's report and not compared.
         */
        Case usesPorts() {
            usesPorts = true;
            return this;
        }

        /** Whether this case is left out of this host's run (its code not even assembled). */
        boolean skippedHere() {
            return vendorDifference != null && vendorDifference.skipped() && vendorDifference.appliesOnThisHost();
        }

        /** Writes {@code size} bytes of {@code value} at scratch offset {@code offset}. */
        Case scratch(int offset, long value, int size) {
            for (int i = 0; i < size; i++) {
                memory[SCRATCH - MEMORY + offset + i] = (byte) (value >>> (8 * i));
            }
            return this;
        }

        /**
         * A memory operand for scratch + {@code offset}, in an addressing form picked at random: absolute
         * disp32, RIP-relative, base + disp (0, 8 or 32 bits), base + index * scale + disp, index * scale +
         * disp32, and with the 0x67 prefix base (+ index) truncated to 32 bits or EIP-relative; a third of
         * them with an FS or GS override. Seeds the
         * base and index registers to reach the target, avoiding the registers in {@code used} (a bit per
         * register number), and r8-r15 unless {@code rex} (an instruction using AH..BH cannot have REX).
         */
        String mem(int offset, int used, boolean rex) {
            // Sometimes through FS or GS, whose bases are added after the (maybe 32-bit) effective address.
            int segment = random.nextInt(6);
            String prefix = segment == 0 ? "%fs:" : segment == 1 ? "%gs:" : "";
            long target = scratch() + offset - (segment == 0 ? FS_BASE : segment == 1 ? GS_BASE : 0);
            return prefix + effectiveAddress(target, used, rex);
        }

        private String effectiveAddress(long target, int used, boolean rex) {
            int limit = rex ? 16 : 8;
            int form = random.nextInt(8);
            String relative = (target >= DATA ? "+0x" : "-0x") + Long.toHexString(Math.abs(target - DATA));
            switch (form) {
                case 0 -> { return "0x" + Long.toHexString(target); }
                case 1 -> { return "cases" + relative + "(%rip)"; }
                case 2 -> { return "cases" + relative + "(%eip)"; }
                default -> { }
            }
            int base = pickRegister(used, limit, false);
            long disp = switch (random.nextInt(3)) {
                case 0 -> 0;
                case 1 -> random.nextInt(256) - 128;
                default -> random.nextInt(0x2000_0000) - 0x1000_0000;
            };
            addressRegs |= 1 << base;
            if (form == 3 || form == 4) {
                reg(base, target - disp);
                return disp + "(%" + R64[base] + ")";
            }
            int index = pickRegister(used | (1 << base), limit, true);
            int scale = 1 << random.nextInt(4);
            long indexValue = value();
            addressRegs |= 1 << index;
            if (form == 5) {
                reg(index, indexValue);
                reg(base, target - disp - indexValue * scale);
                return disp + "(%" + R64[base] + ",%" + R64[index] + "," + scale + ")";
            }
            if (form == 6) {
                // No base: disp32 + index * scale, with disp adjusted so the index is whole.
                disp += Math.floorMod(target - disp, scale);
                reg(index, (target - disp) / scale);
                return disp + "(,%" + R64[index] + "," + scale + ")";
            }
            // 0x67: the sum is truncated to 32 bits, so the registers' upper halves are garbage.
            reg(index, indexValue);
            long low = (target - disp - (indexValue & 0xffff_ffffL) * scale) & 0xffff_ffffL;
            reg(base, (random.nextLong() << 32) | low);
            return random.nextBoolean() ? disp + "(%" + R32[base] + ",%" + R32[index] + "," + scale + ")"
                    : (int) (target - regs[base]) + "(%" + R32[base] + ")";
        }

        private int pickRegister(int used, int limit, boolean index) {
            while (true) {
                int r = random.nextInt(limit);
                if ((used & (1 << r)) == 0 && !(index && r == RSP)) {
                    return r;
                }
            }
        }

        /** Leaves {@code length} bytes at guest address {@code address} out of the comparison. */
        Case ignoreMemory(long address, int length) {
            int at = (int) (address - base() - MEMORY);
            ignoredMemory.set(at, at + length);
            return this;
        }

        /** Writes {@code data} at guest address {@code address}, inside this case's stack or scratch. */
        Case bytes(long address, byte[] data) {
            int at = (int) (address - base() - MEMORY);
            if (at < 0 || at + data.length > MEMORY_SIZE) {
                throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is outside case " + index + "'s memory");
            }
            System.arraycopy(data, 0, memory, at, data.length);
            return this;
        }

        /** The seed bytes at guest address {@code address} (stack or scratch). */
        byte[] bytes(long address, int length) {
            int at = (int) (address - base() - MEMORY);
            return Arrays.copyOfRange(memory, at, at + length);
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder("case " + index + " '" + name + "': " + asm.replace("\n", "; "));
            text.append("\n    seed:");
            for (int r = 0; r < 16; r++) {
                text.append(' ').append(R64[r]).append('=').append(Long.toHexString(regs[r]));
            }
            text.append(" rflags=").append(Long.toHexString(rflags)).append(" [").append(flagNames(rflags)).append(']');
            return text.toString();
        }
    }

    private final String name;
    private final long seed;
    final Random random;
    private final List<Case> cases = new ArrayList<>();

    DifferentialHarness(String name, long seed) {
        this.name = name;
        this.seed = seed;
        this.random = new Random(seed);
    }

    /** A new case running {@code asm} (AT&amp;T syntax, lines separated by newlines or ';'). */
    Case add(String caseName, String asm) {
        Case c = new Case(cases.size(), caseName, asm);
        cases.add(c);
        return c;
    }

    Case add(String asm) {
        return add(asm.split("[ \n;]")[0], asm);
    }

    int size() {
        return cases.size();
    }

    // ---- random operands ----

    private static final long[] EDGES = {
            0, 1, 2, -1, -2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fff_ffffL, 0x8000_0000L,
            0xffff_ffffL, 0x1_0000_0000L, Long.MAX_VALUE, Long.MIN_VALUE, 0xffff_ffff_ffff_ff80L, 0xffff_ffff_ffff_8000L,
            0xffff_ffff_8000_0000L, 0x8000_0000_0000_0001L, 0x0f0f_0f0f_0f0f_0f0fL, 0x5555_5555_5555_5555L,
    };

    /** A 64-bit operand: an edge value, an edge value at a random width, a small number or random bits. */
    long value() {
        int pick = random.nextInt(10);
        return switch (pick) {
            case 0, 1 -> EDGES[random.nextInt(EDGES.length)];
            case 2 -> EDGES[random.nextInt(EDGES.length)] ^ (random.nextLong() & ~0xffffL);
            case 3 -> (random.nextInt(33) - 16) & (random.nextBoolean() ? -1L : 0xffL);
            case 4 -> random.nextLong() & 0xffff_ffffL;
            case 5 -> random.nextLong() >> random.nextInt(64);
            default -> random.nextLong();
        };
    }

    // ---- assembly ----

    private String source() {
        StringBuilder s = new StringBuilder(64 * 1024);
        s.append("# generated by DifferentialHarness for ").append(name).append(", seed ").append(seed).append('\n');
        s.append(".equ EXIT_PORT, ").append(PayloadHarness.EXIT_PORT).append('\n');
        s.append(".section .cases,\"aw\",@nobits\ncases: .skip ").append(end() - DATA).append('\n');
        s.append(".text\n.globl _start\n_start:\n");
        for (Case c : cases) {
            long b = c.base();
            s.append("case_").append(c.index).append(":\n");
            s.append("    movq $body_").append(c.index).append(", ").append(DATA + CONTINUE).append('\n');
            s.append("    movq $").append(b + FAULT).append(", ").append(DATA + FAULT_RECORD).append('\n');
            s.append("    movq $epilogue_").append(c.index).append(", ").append(DATA + RESUME).append('\n');
            s.append("    mov $").append(b + SEED).append(", %rsp\n");
            s.append("    jmp load_all\n");
            s.append("body_").append(c.index).append(":\n");
            if (c.skippedHere()) {
                s.append("    # skipped on this host: ").append(c.vendorDifference.name()).append('\n');
            } else {
                for (String line : c.asm.split("[\n;]")) {
                    s.append("    ").append(line.strip()).append('\n');
                }
            }
            s.append("epilogue_").append(c.index).append(":\n");
            long rspSlot = b + RESULT + 16 * 8;
            s.append("    mov %rsp, ").append(rspSlot).append('\n');
            s.append("    mov $").append(rspSlot).append(", %rsp\n");
            for (int slot = 15; slot >= 1; slot--) {
                s.append("    push %").append(R64[registerOfSlot(slot)]).append('\n');
            }
            s.append("    pushfq\n");
        }
        s.append("""
                    mov $EXIT_PORT, %dx
                    xor %eax, %eax
                batch_exit:
                    out %al, %dx
                    jmp .

                # Loads RFLAGS and the GPRs from the seed block RSP points at, then continues at the body.
                load_all:
                    popfq
                """);
        for (int slot = 1; slot <= 16; slot++) {
            s.append("    pop %").append(R64[registerOfSlot(slot)]).append('\n');
        }
        s.append("    jmp *").append(DATA + CONTINUE).append('\n');
        // Exception handlers: push a zero error code where the CPU pushes none, then the vector.
        for (int vector = 0; vector < 32; vector++) {
            s.append("fault_").append(vector).append(":\n");
            if (!hasErrorCode(vector)) {
                s.append("    push $0\n");
            }
            s.append("    push $").append(vector).append("\n    jmp fault_common\n");
        }
        s.append("""
                # Ring 0: record vector, RIP and error code in the case's fault record, then resume at the
                # case's epilogue (in ring 3, with the RSP and RFLAGS of the fault).
                fault_common:
                    push %rax
                    push %rbx
                """);
        s.append("    mov ").append(DATA + FAULT_RECORD).append(", %rbx\n");
        s.append("""
                    mov 16(%rsp), %rax
                    mov %rax, (%rbx)
                    mov 32(%rsp), %rax
                    mov %rax, 8(%rbx)
                    mov 24(%rsp), %rax
                    mov %rax, 16(%rbx)
                    mov %cr2, %rax
                    mov %rax, 24(%rbx)
                """);
        s.append("    mov ").append(DATA + RESUME).append(", %rax\n");
        s.append("""
                    mov %rax, 32(%rsp)
                    pop %rbx
                    pop %rax
                    add $16, %rsp
                    iretq
                """);
        return s.toString();
    }

    /** The end of guest memory: the last case's page. */
    private long end() {
        return FIRST_CASE + (long) cases.size() * STRIDE;
    }

    private static boolean hasErrorCode(int vector) {
        return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30;
    }

    /** Seed and result block slots: 0 RFLAGS, 1-15 RAX RCX RDX RBX RBP RSI RDI R8-R15, 16 RSP. */
    static int slotOfRegister(int r) {
        return r < RSP ? r + 1 : r == RSP ? 16 : r;
    }

    static int registerOfSlot(int slot) {
        return slot <= 4 ? slot - 1 : slot == 16 ? RSP : slot;
    }

    private Payload assemble() {
        Path out = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "difftest");
        Path source = out.resolve(name + ".S");
        Path object = out.resolve(name + ".o");
        Path elf = out.resolve(name + ".elf");
        Path binary = out.resolve(name + ".bin");
        try {
            Files.createDirectories(out);
            Files.writeString(source, source());
            PayloadAssembler.run("as", "--64", "-o", object.toString(), source.toString());
            PayloadAssembler.run("ld", "-m", "elf_x86_64", "-nostdlib", "-static", "-N", "--build-id=none", "--no-warn-rwx-segments",
                    "-Ttext=0x" + Long.toHexString(LongModeSandbox.PAYLOAD), "--section-start=.cases=0x" + Long.toHexString(DATA),
                    "-e", "_start", "-o", elf.toString(), object.toString());
            PayloadAssembler.run("objcopy", "-O", "binary", "--only-section=.text", elf.toString(), binary.toString());
            Map<String, Long> symbols = PayloadAssembler.symbolsOf(elf);
            byte[] code = Files.readAllBytes(binary);
            if (LongModeSandbox.PAYLOAD + code.length > DATA) {
                throw new IllegalStateException("batch " + name + " too large: " + code.length + " bytes of code");
            }
            return new Payload(name, LongModeSandbox.PAYLOAD, code, Map.copyOf(symbols));
        } catch (IOException e) {
            throw new IllegalStateException("cannot assemble " + source + ": " + e.getMessage(), e);
        }
    }

    // ---- running ----

    /** What one engine left behind for one case. */
    record Outcome(long[] regs, long rflags, byte[] memory, long faultVector, long faultRip, long faultError, long cr2,
            byte[] seedBlock) {}

    /** What one engine left: per case, and the bulk area. */
    private record Run(List<Outcome> outcomes, byte[] bulk) {}

    /** Runs the batch on {@code engine}, or on the host process when it is null (see {@link HostOracle}). */
    private Run runOn(Engine engine, Payload payload, byte[] bulk) throws EngineException, NativeException {
        long size = end();
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, size)))) {
            memory.write(LongModeSandbox.PAYLOAD, payload.code());
            for (Case c : cases) {
                long b = c.base();
                memory.writeLong(b + SEED, c.rflags);
                for (int r = 0; r < 16; r++) {
                    memory.writeLong(b + SEED + 8L * slotOfRegister(r), c.regs[r]);
                }
                memory.writeLong(b + FAULT, -1);
                memory.write(b + MEMORY, c.memory);
            }
            memory.write(BULK, bulk);
            if (engine == null) {
                HostOracle.End end = HostOracle.run(memory, name, LongModeSandbox.PAYLOAD, size, payload.symbol("_start"),
                        payload.symbol("batch_exit"), LongModeSandbox.STACK_TOP, FS_BASE, GS_BASE, DATA + FAULT_RECORD, DATA + RESUME);
                if (!end.exited()) {
                    throw new AssertionError("host: batch ended by a fault outside the cases: " + end);
                }
            } else {
                runOnEngine(engine, memory, payload);
            }
            List<Outcome> outcomes = new ArrayList<>(cases.size());
            for (Case c : cases) {
                long b = c.base();
                long[] regs = new long[16];
                for (int r = 0; r < 16; r++) {
                    regs[r] = memory.readLong(b + RESULT + 8L * slotOfRegister(r));
                }
                outcomes.add(new Outcome(regs, memory.readLong(b + RESULT), memory.readBytes(b + MEMORY, MEMORY_SIZE),
                        memory.readLong(b + FAULT), memory.readLong(b + FAULT + 8), memory.readLong(b + FAULT + 16),
                        memory.readLong(b + FAULT + 24), memory.readBytes(b + SEED, RESULT - SEED)));
            }
            return new Run(outcomes, memory.readBytes(BULK, BULK_SIZE));
        }
    }

    private static void runOnEngine(Engine engine, GuestMemory memory, Payload payload) throws EngineException, NativeException {
        VirtualMachine vm = engine.createVm(memory);
        try (Vcpu vcpu = vm.createVcpu(0)) {
            LongModeSandbox.enter(vcpu, memory, payload, Ring.USER, false);
            SpecialRegisters special = vcpu.specialRegisters();
            vcpu.setSpecialRegisters(new SpecialRegisters(special.cs(), special.ds(), special.es(),
                    withBase(special.fs(), FS_BASE), withBase(special.gs(), GS_BASE), special.ss(), special.tr(),
                    special.ldt(), special.gdt(), special.idt(), special.cr0(), special.cr2(), special.cr3(),
                    special.cr4(), special.cr8(), special.efer(), special.apicBase()));
            for (int vector = 0; vector < 32; vector++) {
                LongModeSandbox.setInterruptGate(memory, vector, payload.symbol("fault_" + vector));
            }
            int status = new PayloadHarness().runToExit(vcpu, RUN_LIMIT);
            if (status != 0) {
                throw new AssertionError(engine.name() + ": batch exited with status " + status);
            }
            if (vm instanceof InterpVm interp && interp.jitCompiler() != null) {
                // The JIT run must have run compiled code, and every block must have compiled.
                if (interp.jitCompiler().lastFailure() != null) {
                    throw new AssertionError("jit: a block did not compile", interp.jitCompiler().lastFailure());
                }
                if (interp.jitCompiler().compiledBlocks() == 0) {
                    throw new AssertionError("jit: nothing was compiled");
                }
            }
        } finally {
            vm.close();
        }
    }

    private static Segment withBase(Segment s, long base) {
        return new Segment(base, s.limit(), s.selector(), s.type(), s.present(), s.dpl(), s.db(), s.s(), s.l(), s.g(),
                s.avl(), s.unusable());
    }

    /**
     * Runs the batch on the interpreter and on every oracle of this run ({@link HostOracle#available()}: the host
     * process, and KVM where it opens); returns a description of every disagreement (empty when none), each
     * naming the oracle it is with.
     */
    List<String> differences() throws EngineException, NativeException {
        List<HostOracle.Oracle> oracles = HostOracle.usable();
        Payload payload = assemble();
        byte[] bulk = new byte[BULK_SIZE];
        new Random(seed ^ 0xb01cL).nextBytes(bulk);
        Run interpRun = runOn(new InterpEngine(JitOptions.off()), payload, bulk);
        List<String> differences = new ArrayList<>(jitDifferences(payload, bulk, interpRun));
        // With no oracle to hold the interpreter to, a JIT that agrees with it is all this host can check: skipped after.
        assumeFalse(oracles.isEmpty() && differences.isEmpty(), HostOracle.NO_ORACLE);
        faults = 0;
        ntLostByHost = 0;
        portCasesNotOnHost = 0;
        hostRules.clear();
        vendorRules = new VendorDifference.Tally();
        oraclesRun = oracles.stream().map(o -> o.label).toList();
        for (HostOracle.Oracle o : oracles) {
            boolean kvm = o == HostOracle.Oracle.KVM;
            Run oracleRun = runOn(kvm ? new KvmEngine() : null, payload, bulk);
            differences.addAll(differences(o.label, kvm, o == oracles.get(0), oracleRun, interpRun));
        }
        return differences;
    }

    /**
     * The same batch with the JIT compiling every block at its first execution (threshold 0) must leave exactly what
     * the interpreter alone left: the interpreter is the JIT's reference, bit for bit, faults included.
     */
    private List<String> jitDifferences(Payload payload, byte[] bulk, Run interpRun) throws EngineException, NativeException {
        Run jitRun = runOn(new InterpEngine(JitOptions.compileAtOnce()), payload, bulk);
        List<String> differences = new ArrayList<>();
        int mismatch = Arrays.mismatch(jitRun.bulk(), interpRun.bulk());
        if (mismatch >= 0) {
            differences.add(String.format("jit: bulk memory at 0x%x differs from the interpreter's", BULK + mismatch));
        }
        for (Case c : cases) {
            Outcome jit = jitRun.outcomes().get(c.index);
            Outcome interp = interpRun.outcomes().get(c.index);
            // Bit for bit, undefined flags and registers included: both run the interpreter's own code for them.
            boolean same = Arrays.equals(jit.regs(), interp.regs()) && jit.rflags() == interp.rflags()
                    && Arrays.equals(jit.memory(), interp.memory()) && Arrays.equals(jit.seedBlock(), interp.seedBlock())
                    && jit.faultVector() == interp.faultVector() && jit.faultRip() == interp.faultRip()
                    && jit.faultError() == interp.faultError() && jit.cr2() == interp.cr2();
            String difference = null;
            if (!same) {
                String detail = compare("jit", false, c, jit, interp);
                difference = c.name + " (jit against the interpreter): " + (detail != null ? detail
                        : String.format("rflags jit %x, interp %x, or an undefined register differs: jit %s, interp %s",
                        jit.rflags(), interp.rflags(), Arrays.toString(jit.regs()), Arrays.toString(interp.regs())));
            }
            if (difference != null) {
                differences.add(difference);
            }
        }
        return differences;
    }

    /** The disagreements with one oracle; {@code first}: whether it is the run's first (which counts skips and faults). */
    private List<String> differences(String label, boolean kvm, boolean first, Run oracleRun, Run interpRun) {
        List<Outcome> oracle = oracleRun.outcomes();
        List<Outcome> interp = interpRun.outcomes();
        List<String> differences = new ArrayList<>();
        int mismatch = Arrays.mismatch(oracleRun.bulk(), interpRun.bulk());
        if (mismatch >= 0) {
            differences.add(String.format("bulk memory at 0x%x (cases using it, in order, decide it): %s %02x, interp %02x",
                    BULK + mismatch, label, oracleRun.bulk()[mismatch] & 0xff, interpRun.bulk()[mismatch] & 0xff));
        }
        for (Case c : cases) {
            if (c.skippedHere()) {
                if (first) {
                    vendorRules.add(c.vendorDifference);
                }
                continue;
            }
            if (!kvm && c.usesPorts) {
                portCasesNotOnHost++;
                continue;
            }
            Outcome host = oracle.get(c.index);
            if (first && host.faultVector != -1) {
                faults++;
            }
            if (c.vendorDifference != null && c.vendorDifference.appliesOnThisHost()) {
                Outcome normalised = normalise(c, host, interp.get(c.index));
                if (normalised != host) {
                    vendorRules.add(c.vendorDifference);
                    host = normalised;
                }
            }
            if (!kvm) {
                host = normaliseHostProcess(host, interp.get(c.index));
            }
            boolean ntRule = kvm && c.setsNt;
            if (ntRule && hostLostNt(c, host, interp.get(c.index))) {
                ntLostByHost++;
            }
            String difference = compare(label, ntRule, c, host, interp.get(c.index));
            if (difference != null) {
                differences.add(difference);
            }
        }
        return differences;
    }

    /** Runs the batch on the host oracle alone ({@link HostOracle}): each case's outcome, for checks of the oracle. */
    List<Outcome> hostOutcomes() throws EngineException, NativeException {
        byte[] bulk = new byte[BULK_SIZE];
        new Random(seed ^ 0xb01cL).nextBytes(bulk);
        return runOn(null, assemble(), bulk).outcomes();
    }

    /** Runs the batch on the interpreter alone (no KVM needed): each case's outcome, for known-value checks. */
    List<Outcome> interpreterOutcomes() throws EngineException, NativeException {
        byte[] bulk = new byte[BULK_SIZE];
        new Random(seed ^ 0xb01cL).nextBytes(bulk);
        return runOn(new InterpEngine(JitOptions.off()), assemble(), bulk).outcomes();
    }

    /** Cases that raised an exception on the first oracle of the last run. */
    int faults;
    /** The oracles of the last run, by label. */
    List<String> oraclesRun = List.of();
    /**
     * Where the host oracle (a Linux process) reports an exception differently from a bare ring 3 under the
     * sandbox's page tables, for a reason of the host's, not of the instruction: each rule maps exactly that
     * part of the host's report onto the sandbox's, and only where the interpreter's report is the sandbox's;
     * the run counts the cases each rule took.
     */
    enum HostRule {
        /**
         * Linux runs with EFER.NXE, under which a #PF on an instruction fetch has error-code bit 4 (I/D) set;
         * the sandbox runs without NXE, where the bit is 0 (SDM Vol. 3A 4.7). Taken for a #PF whose CR2 is the
         * faulting RIP.
         */
        FETCH_BIT_UNDER_NXE,
        /**
         * Linux reports a #PF at or above TASK_SIZE_MAX (0x7ffffffff000, the top user page, which it never maps)
         * as a kernel-address fault with the P bit set (arch/x86/mm/fault.c), whether the page walk found it
         * present or not; the sandbox's page is simply not present (P = 0).
         */
        TOP_PAGE_REPORTED_PRESENT,
        /**
         * An access from the top canonical page running into non-canonical space (0x7ffffffffffd, 8 bytes):
         * the host CPU raises #GP(0) for the non-canonical end before any page walk; KVM on this host (whose
         * shadow paging does not map the page) and the interpreter report the #PF on the first byte.
         */
        CANONICAL_END_OF_TOP_PAGE,
    }

    /** The cases each {@link HostRule} took in the last run. */
    final java.util.EnumMap<HostRule, Integer> hostRules = new java.util.EnumMap<>(HostRule.class);

    private static final long TASK_SIZE_MAX = 0x7fff_ffff_f000L, CANONICAL_END = 0x8000_0000_0000L;

    /** {@code host} (the host process's outcome) with each {@link HostRule} that applies mapped, and counted. */
    Outcome normaliseHostProcess(Outcome host, Outcome interp) {
        long vector = host.faultVector, error = host.faultError, cr2 = host.cr2;
        if (vector == 14 && cr2 == host.faultRip && (error & 0x10) != 0 && (interp.faultError & 0x10) == 0) {
            error &= ~0x10;
            hostRules.merge(HostRule.FETCH_BIT_UNDER_NXE, 1, Integer::sum);
        }
        if (vector == 14 && cr2 >= TASK_SIZE_MAX && cr2 < CANONICAL_END && (error & 1) != 0 && (interp.faultError & 1) == 0) {
            error &= ~1;
            hostRules.merge(HostRule.TOP_PAGE_REPORTED_PRESENT, 1, Integer::sum);
        }
        if (vector == 13 && error == 0 && interp.faultVector == 14 && interp.faultRip == host.faultRip
                && interp.cr2 >= CANONICAL_END - 16 && interp.cr2 < CANONICAL_END) {
            vector = 14;
            error = interp.faultError;
            cr2 = interp.cr2;
            hostRules.merge(HostRule.CANONICAL_END_OF_TOP_PAGE, 1, Integer::sum);
        }
        return vector == host.faultVector && error == host.faultError && cr2 == host.cr2 ? host
                : new Outcome(host.regs, host.rflags, host.memory, vector, host.faultRip, error, cr2, host.seedBlock);
    }

    /** Cases of the last run that use I/O ports, which the host oracle cannot run (see {@link Case#usesPorts}). */
    int portCasesNotOnHost;
    /** Cases of the last run that set NT and where the host had lost it (see {@link Case#setsNt}). */
    int ntLostByHost;
    /** The cases the vendor rules took in the last run (skipped, or compared after normalising). */
    VendorDifference.Tally vendorRules = new VendorDifference.Tally();

    /**
     * The host's outcome of a case marked with a {@link VendorDifference} that applies here, with exactly the
     * documented vendor-specific part mapped onto what an Intel CPU does; {@code host} itself if there is
     * nothing to map (then it is compared as it is, and any difference fails).
     */
    static Outcome normalise(Case c, Outcome host, Outcome interp) {
        switch (c.vendorDifference) {
            case ADDR32_REP_STRING_ZERO_COUNT -> {
                // AMD writes none of RCX/RSI/RDI for a zero count; Intel writes ECX (ESI, EDI) zero-extended.
                long[] regs = host.regs.clone();
                boolean mapped = false;
                for (int r = 0; r < 16; r++) {
                    long seed = c.regs[r];
                    if ((c.vendorRegs & (1 << r)) != 0 && host.regs[r] == seed && interp.regs[r] == (seed & 0xffff_ffffL)
                            && interp.regs[r] != seed) {
                        regs[r] = interp.regs[r];
                        mapped = true;
                    }
                }
                return mapped ? new Outcome(regs, host.rflags, host.memory, host.faultVector, host.faultRip, host.faultError,
                        host.cr2, host.seedBlock) : host;
            }
            default -> throw new IllegalStateException(c.vendorDifference + " is not a rule for integer cases");
        }
    }

    /** Fails the test, listing (at most 25) disagreeing cases, unless the engines agreed on every case. */
    void assertAgree() throws EngineException, NativeException {
        List<String> differences = differences();
        System.out.printf("differential %s against %s: %d cases (%d raising exceptions), seed %d, %d disagreements; %s%s%s%s%n",
                name, String.join(" and ", oraclesRun), cases.size(), faults, seed, differences.size(), vendorRules,
                ntLostByHost == 0 ? "" : "; NT lost by KVM across a VM exit (accepted): " + ntLostByHost + " cases",
                portCasesNotOnHost == 0 ? "" : "; port I/O cases compared with KVM only (none on the host oracle): "
                        + portCasesNotOnHost, hostRules.isEmpty() ? "" : "; host-process rules: " + hostRules);
        if (!differences.isEmpty()) {
            StringBuilder message = new StringBuilder(name + ": interpreter disagrees with " + String.join("/", oraclesRun) + " on " + differences.size()
                    + " of " + cases.size() + " cases (seed " + seed + "; -Dvmguard.diff.seed=N to change it; " + vendorRules
                    + "):\n");
            differences.stream().limit(25).forEach(d -> message.append(d).append('\n'));
            throw new AssertionError(message.toString());
        }
    }

    /**
     * Whether, in a case that {@link Case#setsNt}, the host shows NT clear where the interpreter has it set (in
     * RFLAGS or one of the case's NT images): the loss across a VM exit that the comparison accepts there.
     */
    static boolean hostLostNt(Case c, Outcome kvm, Outcome interp) {
        if (!c.setsNt) {
            return false;
        }
        boolean lost = lostNt(kvm.rflags, interp.rflags) != 0;
        for (int r = 0; r < 16; r++) {
            lost |= (c.ntImageRegs & (1 << r)) != 0 && lostNt(kvm.regs[r], interp.regs[r]) != 0;
        }
        for (int i = c.ntImageBytes.nextSetBit(0); i >= 0; i = c.ntImageBytes.nextSetBit(i + 1)) {
            lost |= lostNt(kvm.memory[i] << 8, interp.memory[i] << 8) != 0;
        }
        return lost;
    }

    /** NT in {@code kvm}'s value if it is clear there and set in {@code interp}'s (the host lost it), else 0. */
    private static long lostNt(long kvm, long interp) {
        return (kvm & NT) == 0 && (interp & NT) != 0 ? NT : 0;
    }

    /** How the host's and the interpreter's outcomes of {@code c} disagree, as text, or null if they agree. */
    static String compare(Case c, Outcome kvm, Outcome interp) {
        return compare("kvm", c.setsNt, c, kvm, interp);
    }

    /**
     * How oracle {@code label}'s and the interpreter's outcomes of {@code c} disagree, as text, or null if they
     * agree; {@code ntRule}: whether the oracle's NT lost across a VM exit is accepted (KVM, in a case that sets NT).
     */
    static String compare(String label, boolean ntRule, Case c, Outcome kvm, Outcome interp) {
        StringBuilder d = new StringBuilder();
        if (kvm.faultVector != interp.faultVector) {
            d.append("\n    exception: " + label + " ").append(fault(kvm)).append(", interp ").append(fault(interp));
        } else if (kvm.faultVector != -1 && (kvm.faultRip != interp.faultRip || kvm.faultError != interp.faultError
                || (kvm.faultVector == 14 && kvm.cr2 != interp.cr2))) {
            d.append("\n    exception: " + label + " ").append(fault(kvm)).append(", interp ").append(fault(interp));
        }
        for (int r = 0; r < 16; r++) {
            long regDiff = kvm.regs[r] ^ interp.regs[r];
            if (ntRule && (c.ntImageRegs & (1 << r)) != 0) {
                regDiff &= ~lostNt(kvm.regs[r], interp.regs[r]);
            }
            if ((c.undefinedRegs & (1 << r)) == 0 && regDiff != 0) {
                d.append(String.format("%n    %s: %s %x, interp %x", R64[r], label, kvm.regs[r], interp.regs[r]));
            }
        }
        long ntLost = ntRule ? lostNt(kvm.rflags, interp.rflags) : 0;
        long flagDiff = (kvm.rflags ^ interp.rflags) & ~(c.undefinedFlags | HOST_FLAGS | ntLost);
        if (flagDiff != 0) {
            d.append(String.format("%n    rflags: %s %x [%s], interp %x [%s], differing: %s (undefined, not compared: %s)",
                    label, kvm.rflags, flagNames(kvm.rflags), interp.rflags, flagNames(interp.rflags), flagNames(flagDiff),
                    flagNames(c.undefinedFlags)));
        }
        int seedMismatch = Arrays.mismatch(kvm.seedBlock, interp.seedBlock);
        if (seedMismatch >= 0) {
            // Written by some earlier case, under one engine only: that case wrote outside its own memory.
            d.append(String.format("%n    seed block +0x%x overwritten by an earlier case: %s %02x, interp %02x", seedMismatch, label,
                    kvm.seedBlock[seedMismatch] & 0xff, interp.seedBlock[seedMismatch] & 0xff));
        }
        if (!Arrays.equals(kvm.memory, interp.memory)) {
            for (int i = 0; i < MEMORY_SIZE; i++) {
                int byteDiff = kvm.memory[i] ^ interp.memory[i];
                if (ntRule && c.ntImageBytes.get(i)) {
                    byteDiff &= (int) ~(lostNt(kvm.memory[i] << 8, interp.memory[i] << 8) >>> 8);
                }
                if (byteDiff != 0 && !c.ignoredMemory.get(i)) {
                    int offset = MEMORY + i;
                    String where = offset >= SCRATCH ? "scratch+0x" + Integer.toHexString(offset - SCRATCH)
                            : "stack top-0x" + Integer.toHexString(STACK_TOP - offset);
                    d.append(String.format("%n    memory %s (0x%x): %s %02x, interp %02x", where, c.base() + offset, label,
                            kvm.memory[i] & 0xff, interp.memory[i] & 0xff));
                    break;
                }
            }
        }
        return d.isEmpty() ? null : c + d.toString();
    }

    private static String fault(Outcome o) {
        return o.faultVector == -1 ? "none"
                : String.format("vector %d at rip %x error %x", o.faultVector, o.faultRip, o.faultError)
                        + (o.faultVector == 14 ? String.format(" cr2 %x", o.cr2) : "");
    }

    public static String flagNames(long flags) {
        String[] names = {"CF", "", "PF", "", "AF", "", "ZF", "SF", "TF", "IF", "DF", "OF", "IOPL0", "IOPL1", "NT", "",
                "RF", "VM", "AC", "VIF", "VIP", "ID"};
        StringBuilder text = new StringBuilder();
        for (int bit = 0; bit < names.length; bit++) {
            if (!names[bit].isEmpty() && (flags & (1L << bit)) != 0) {
                text.append(text.isEmpty() ? "" : " ").append(names[bit]);
            }
        }
        return text.toString();
    }

    /** The seed for a test: -Dvmguard.diff.seed if given, else a fixed one per test name. */
    static long seedFor(String test) {
        String property = System.getProperty("vmguard.diff.seed");
        long base = property != null ? Long.parseLong(property) : 0x5eed_2026L;
        return base * 31 + test.hashCode();
    }
}
