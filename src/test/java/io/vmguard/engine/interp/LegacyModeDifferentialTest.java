package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.Engine;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.kvm.KvmEngine;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * 32-bit and 16-bit code, the interpreter against real CPUs: random short sequences of integer instructions
 * (register, memory and stack forms, INC/DEC's one-byte encodings, 16-bit ModRM addressing, operand- and
 * address-size prefixes, string instructions, short branches) run as ring-3 code in compatibility mode under a
 * small 64-bit kernel ({@link ModeRig#runLong}), and 16-bit code also in real mode. Two references, each where
 * it exists ({@link HostOracle#available}, {@code -Dvmguard.oracle=host|kvm|both}): the host CPU itself in a
 * 32-bit process ({@link HostOracle32}; 16-bit code in 16-bit LDT segments there), on every x86-64 Linux host,
 * so no case skips without /dev/kvm; and KVM, which runs the very program the interpreter runs natively (the
 * run ends with an OUT from ring 3, which the TSS's I/O bitmap allows, and both engines hand to the VMM).
 * Each case starts from random registers and flags and stores every register and the flags; the results and a
 * data area they write must be identical.
 */
class LegacyModeDifferentialTest {
    private static final int CASES = 100;
    /**
     * Where a run keeps its result slots, its data and its stack: below 64 KiB for 16-bit code; for 32-bit
     * code high enough that the host oracle's process can map them too (Linux keeps the first 64 KiB free).
     */
    private record Layout(long results, long data, long stack) {}

    private static final Layout LOW = new Layout(0xe000, 0xf000, 0x5800);
    private static final Layout HIGH = new Layout(0x1e0000, 0x1f0000, 0x1d8000);
    /** Where the host oracle's code keeps the stack pointer it returns with (see host-oracle32.c). */
    private static final long HOST_SAVED_SP = 0x1dfff0;
    /** The same for 16-bit code, an offset in its data segment (below {@code LOW.results}); SS two words above. */
    private static final long HOST_SAVED_SP16 = 0xdff0, HOST_SAVED_SS16 = 0xdff4;
    private static final int DATA_SIZE = 0x200;
    private static final int SLOT = 40;

    private static final String[] DST32 = {"%eax", "%ecx", "%edx", "%ebp"};
    private static final String[] SRC32 = {"%eax", "%ecx", "%edx", "%ebp", "%ebx", "%esi", "%edi"};
    private static final String[] DST16 = {"%ax", "%cx", "%dx", "%bp"};
    private static final String[] SRC16 = {"%ax", "%cx", "%dx", "%bp", "%bx", "%si", "%di"};
    private static final String[] DST8 = {"%al", "%cl", "%dl", "%ah", "%ch", "%dh"};
    private static final String[] ALU = {"add", "sub", "adc", "sbb", "and", "or", "xor", "cmp", "test"};
    private static final String[] SHIFT = {"shl", "shr", "sar", "rol", "ror", "rcl", "rcr"};
    private static final String[] CC = {"z", "nz", "c", "nc", "s", "ns", "o", "no", "be", "a", "l", "ge", "le", "g", "p", "np"};

    @Test
    void thirtyTwoBitCodeInCompatibilityModeAgreesWithTheHostCpuAndKvm() throws Exception {
        compare(32, 0x32323232L);
    }

    @Test
    void sixteenBitCodeInCompatibilityModeAgreesWithTheHostCpuAndKvm() throws Exception {
        compare(16, 0x16161616L);
    }

    /**
     * The same kind of 16-bit code in real mode (CS 0800, the other segments 0), where KVM runs it as well; the
     * host CPU runs it in 16-bit protected mode (see {@link #hostCode16}).
     */
    @Test
    void sixteenBitCodeInRealModeAgreesWithTheHostCpuAndKvm() throws Exception {
        compare(0, 0x0e0e0e0eL);
    }

    /** {@code bits} 32 or 16: compatibility mode; 0: real mode. */
    private static void compare(int bits, long seed) throws Exception {
        boolean real = bits == 0;
        int codeBits = real ? 16 : bits;
        Layout layout = codeBits == 32 ? HIGH : LOW;
        seed = Long.getLong("vmguard.diff.seed", seed);
        Random random = new Random(seed);
        List<String> cases = new ArrayList<>();
        StringBuilder user = new StringBuilder();
        for (int k = 0; k < CASES; k++) {
            String snippet = snippet(random, codeBits, layout);
            cases.add(snippet);
            user.append(caseCode(random, k, snippet, layout));
        }
        byte[] data = new byte[DATA_SIZE];
        random.nextBytes(data);
        String end = "movb $0x81, %al\noutb %al, $0xe0\n"; // ring 3 may: the TSS's I/O bitmap allows every port
        String program = real ? user + end
                : kernel(bits) + (bits == 32 ? ".code32\n" : ".code16\n") + ".org 0x1000\n"
                + "movw $0x23, %ax\nmovw %ax, %ds\nmovw %ax, %es\n" + user + end;
        String mode = real ? "real-mode 16-bit" : bits + "-bit";
        byte[] interp = run(new InterpEngine(JitOptions.off()), program, data, real, layout);
        // The JIT compiling every block at its first execution must leave exactly what the interpreter left.
        byte[] jit = run(new InterpEngine(JitOptions.compileAtOnce()), program, data, real, layout);
        assertArrayEquals(interp, jit, mode + ": the JIT's results differ from the interpreter's");
        // The host's oracle here is the 32-bit helper (it needs IA32 emulation, not FSGSBASE); with neither it nor KVM,
        // the JIT's check above is all this host can run.
        List<HostOracle.Oracle> oracles = new ArrayList<>();
        if (HostOracle.usable().contains(HostOracle.Oracle.KVM)) {
            oracles.add(HostOracle.Oracle.KVM);
        }
        if (HostOracle32.available()) {
            oracles.add(HostOracle.Oracle.HOST);
        }
        assumeTrue(!oracles.isEmpty(), "no oracle for " + mode + " code: /dev/kvm does not open, and " + HostOracle32.UNAVAILABLE);
        List<String> references = new ArrayList<>();
        for (HostOracle.Oracle oracle : oracles) {
            String reference = oracle == HostOracle.Oracle.HOST ? "the host CPU" : "KVM";
            byte[] result = switch (oracle) {
                case HOST -> codeBits == 32 ? HostOracle32.run(ModeRig.assemble(".code32", hostCode32(user)), data)
                        : HostOracle32.run(ModeRig.assemble(".code16", hostCode16(user)), data,
                                real ? HostOracle32.Segments.CODE16_STACK16 : HostOracle32.Segments.CODE16_STACK32);
                case KVM -> run(new KvmEngine(), program, data, real, layout);
            };
            check(mode, reference, cases, interp, result, seed);
            references.add(reference);
        }
        System.out.println("differential, " + mode + " code" + (real ? "" : " in compatibility mode") + ": " + CASES
                + " cases, 0 disagreements with " + String.join(" and ", references));
    }

    /** The cases as the host oracle runs 32-bit code: called with the host's stack, which they leave and come back to. */
    private static String hostCode32(CharSequence user) {
        return "movl %esp, 0x" + Long.toHexString(HOST_SAVED_SP) + "\n" + user
                + "movl 0x" + Long.toHexString(HOST_SAVED_SP) + ", %esp\nret\n";
    }

    /**
     * The cases as the host oracle runs 16-bit code: far-called in a 16-bit code segment with DS and ES its
     * 16-bit data segment (host-oracle32.c), they keep the host's SS:ESP in that segment, take it as SS too
     * (the cases set ESP themselves), and at the end return to the 32-bit caller by an o32 RETF on the host's stack.
     * The cases use {@link #LOW}'s offsets as they do under the engines, where DS, ES and SS are based at 0.
     * <p>
     * For real mode this shows what the cases are about, the semantics of 16-bit code (16-bit operand and
     * address size, 66/67 prefixes, 16-bit ModRM forms and their wrap-around, SP-based stack operations with a
     * 16-bit SS, flags), which are the same in real and protected mode. It cannot show what only real mode
     * does: segment bases formed as selector × 16 (the cases load no segment register), real-mode limits and
     * interrupts through the IVT, code and data sharing one address space (here they are separate segments);
     * only KVM checks those here, where it exists ({@link ProcessorModesTest} has its own cases for real mode).
     */
    private static String hostCode16(CharSequence user) {
        return "movw %ss, 0x" + Long.toHexString(HOST_SAVED_SS16) + "\nmovl %esp, 0x" + Long.toHexString(HOST_SAVED_SP16)
                + "\nmovw %ds, %ax\nmovw %ax, %ss\n" + user
                + "movw 0x" + Long.toHexString(HOST_SAVED_SS16) + ", %ss\nmovl 0x" + Long.toHexString(HOST_SAVED_SP16) + ", %esp\nlretl\n";
    }

    private static void check(String mode, String reference, List<String> cases, byte[] interp, byte[] kvm, long seed) {
        for (int k = 0; k < CASES; k++) {
            for (int i = 0; i < SLOT; i += 4) {
                int a = readInt(interp, k * SLOT + i);
                int b = readInt(kvm, k * SLOT + i);
                if (a != b) {
                    fail(mode + " case " + k + ", " + REGISTER_NAMES[i / 4] + ": interpreter 0x" + Integer.toHexString(a)
                            + ", " + reference + " 0x" + Integer.toHexString(b) + "\n" + cases.get(k)
                            + "(seed " + seed + "; -Dvmguard.diff.seed=N to change it)");
                }
            }
        }
        for (int i = 0; i < DATA_SIZE; i++) {
            if (interp[CASES * SLOT + i] != kvm[CASES * SLOT + i]) {
                fail(mode + " code: data byte " + i + " differs: interpreter " + interp[CASES * SLOT + i] + ", "
                        + reference + " " + kvm[CASES * SLOT + i]);
            }
        }
    }

    private static final String[] REGISTER_NAMES = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eflags", "-"};

    /** Kernel at CODE: IRETQ to the ring-3 code at CODE + 0x1000; INT 0x81 ends the run with an OUT. */
    private static String kernel(int bits) {
        int cs = bits == 32 ? ModeRig.USER_CODE32 : ModeRig.USER_CODE16;
        return ".code64\npushq $" + ModeRig.USER_DATA + "\npushq $0x5800\npushq $2\npushq $" + cs + "\npushq $0x9000\niretq\n"
                + ".org 0x80\nmovb $0x81, %al\noutb %al, $0xe0\nhlt\n"
                + faultStubs();
    }

    /** A gate per exception to a stub that reports its vector on port 0xe1 (the frame stays on the stack). */
    private static String faultStubs() {
        StringBuilder s = new StringBuilder();
        for (int v = 0; v < 32; v++) {
            s.append(".org 0x").append(Integer.toHexString(0x100 + 16 * v)).append("\nmovb $").append(v).append(", %al\noutb %al, $0xe1\nhlt\n");
        }
        return s.toString();
    }

    /** One case: random registers and flags, the snippet, then every register and the flags into its slot. */
    private static String caseCode(Random random, int k, String snippet, Layout layout) {
        StringBuilder s = new StringBuilder();
        String[] regs = {"%eax", "%ecx", "%edx", "%ebp"};
        for (String r : regs) {
            s.append("movl $0x").append(Integer.toHexString(value(random))).append(", ").append(r).append('\n');
        }
        // Address registers stay inside the data area (and below 64 KiB, for 16-bit addressing).
        s.append("movl $0x").append(Long.toHexString(layout.data() + random.nextInt(0x40))).append(", %ebx\n");
        s.append("movl $0x").append(Long.toHexString(layout.data() + 0x40 + random.nextInt(0x40))).append(", %esi\n");
        s.append("movl $0x").append(Long.toHexString(layout.data() + 0x80 + random.nextInt(0x40))).append(", %edi\n");
        s.append("movl $0x").append(Long.toHexString(layout.stack())).append(", %esp\n");
        s.append("pushl $0x").append(Integer.toHexString(0x202 | (random.nextInt() & 0x8d5))).append("\npopfl\n");
        s.append(snippet);
        long slot = layout.results() + (long) k * SLOT;
        s.append("pushfl\n");
        String[] all = {"%eax", "%ecx", "%edx", "%ebx", "%esp", "%ebp", "%esi", "%edi"};
        for (int i = 0; i < all.length; i++) {
            s.append("movl ").append(all[i]).append(", 0x").append(Long.toHexString(slot + 4L * i)).append('\n');
        }
        s.append("popl %eax\nandl $0x8d5, %eax\nmovl %eax, 0x").append(Long.toHexString(slot + 32)).append('\n');
        return s.toString();
    }

    private static int value(Random random) {
        return switch (random.nextInt(5)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> 0x8000_0000 >> random.nextInt(32);
            case 3 -> random.nextInt(256);
            default -> random.nextInt();
        };
    }

    private static String pick(Random random, String[] from) {
        return from[random.nextInt(from.length)];
    }

    /** Two to five instructions of the mode (16-bit code gets 16-bit addressing forms, and 66/67 for 32-bit ones). */
    private static String snippet(Random random, int bits, Layout layout) {
        StringBuilder s = new StringBuilder();
        int count = 2 + random.nextInt(4);
        for (int i = 0; i < count; i++) {
            s.append(instruction(random, bits, layout)).append('\n');
        }
        return s.toString();
    }

    /**
     * Flags some instructions leave undefined (SF ZF AF PF after multiplies, AF after shifts, OF after
     * multi-bit shifts and rotates) differ between CPUs: a CMP after them makes every flag defined again.
     * Their results are compared; their flags are the integer differential tests' business.
     */
    private static final String DEFINE_FLAGS = "\ncmpl %eax, %ecx";

    private static String instruction(Random random, int bits, Layout layout) {
        String absolute = "0x" + Long.toHexString(layout.data() + 0x100);
        String d = pick(random, DST32), src = pick(random, SRC32), dw = pick(random, DST16), sw = pick(random, SRC16);
        String db = pick(random, DST8);
        String alu = pick(random, ALU);
        String mem = bits == 32 ? pick(random, new String[] {"8(%esi)", "(%edi)", "-4(%ebx)", absolute, "-0x1f0000(%esi,%ebx,1)"})
                : pick(random, new String[] {"8(%si)", "(%di)", "-4(%bx)", absolute, "6(%bx,%si)", "(%bp,%di)"});
        String store = bits == 32 ? pick(random, new String[] {"8(%esi)", "(%edi)", "-4(%ebx)", absolute})
                : pick(random, new String[] {"8(%si)", "(%di)", "-4(%bx)", absolute});
        int imm = random.nextInt(256);
        return switch (random.nextInt(34)) {
            case 0 -> alu + "l " + src + ", " + d;
            case 1 -> alu + "w " + sw + ", " + dw;
            case 2 -> alu + "b " + pick(random, DST8) + ", " + db;
            case 3 -> alu + "l $" + (random.nextInt() | 0) + ", " + d;
            case 4 -> alu + "w $" + imm + ", " + dw;
            case 5 -> (random.nextBoolean() ? "inc" : "dec") + (random.nextBoolean() ? "l " + d : "w " + dw);
            case 6 -> (random.nextBoolean() ? "neg" : "not") + "l " + d;
            case 7 -> pick(random, SHIFT) + "l $" + (1 + random.nextInt(31)) + ", " + d + DEFINE_FLAGS;
            case 8 -> pick(random, SHIFT) + "w $" + (1 + random.nextInt(15)) + ", " + dw + DEFINE_FLAGS;
            case 9 -> "movb $" + (imm & 31) + ", %cl\n" + pick(random, new String[] {"shl", "shr", "sar"}) + "l %cl, "
                    + pick(random, new String[] {"%eax", "%edx", "%ebp"}) + DEFINE_FLAGS;
            case 10 -> "imull " + src + ", " + d + DEFINE_FLAGS;
            case 11 -> "imulw $" + (imm - 128) + ", " + sw + ", " + dw + DEFINE_FLAGS;
            case 12 -> (random.nextBoolean() ? "mull " : "imull ") + pick(random, new String[] {"%ecx", "%ebx", "%esi"}) + DEFINE_FLAGS;
            case 13 -> (random.nextBoolean() ? "mulw " : "imulw ") + pick(random, new String[] {"%cx", "%bx", "%si"}) + DEFINE_FLAGS;
            case 14 -> alu + "l " + mem + ", " + d;
            case 15 -> "movl " + src + ", " + store;
            case 16 -> "movw " + sw + ", " + store;
            case 17 -> (random.nextBoolean() ? "addl " : "xorl ") + src + ", " + store;
            case 18 -> (random.nextBoolean() ? "incl " : "notw ") + store;
            case 19 -> (random.nextBoolean() ? "movzbl " : "movsbl ") + mem + ", " + d;
            case 20 -> (random.nextBoolean() ? "movzwl " : "movswl ") + mem + ", " + d;
            case 21 -> "leal 3(" + pick(random, new String[] {"%esi", "%ebx"}) + "," + pick(random, new String[] {"%eax", "%ecx"}) + ",4), " + d;
            case 22 -> "leaw 5(%bx,%si), " + dw;
            case 23 -> pick(random, new String[] {"cwtl", "cltd", "cbtw", "cwtd", "lahf", "sahf", "cmc", "stc", "clc"});
            case 24 -> "bswapl " + d;
            case 25 -> "xchgl " + pick(random, DST32) + ", " + d; // both change: address registers stay out
            case 26 -> "set" + pick(random, CC) + " " + db;
            case 27 -> "cmov" + pick(random, CC) + "l " + src + ", " + d;
            case 28 -> "pushl " + src + "\npopl " + d;
            case 29 -> "pushw " + sw + "\npopw " + dw;
            case 30 -> random.nextBoolean() ? "pushal\nnotl %eax\npopal" : "pushaw\nnegw %dx\npopaw";
            case 31 -> "cld\n" + pick(random, new String[] {"movsb", "movsl", "lodsw", "stosb", "cmpsb", "scasw", "stosl"});
            case 32 -> "j" + pick(random, CC) + " 1f\nincl " + d + "\n1:";
            case 33 -> "xaddl " + d + ", " + store;
            default -> throw new IllegalStateException();
        };
    }

    /** Runs the program on {@code engine}; returns the result slots followed by the data area. */
    private static byte[] run(Engine engine, String program, byte[] data, boolean real, Layout layout) throws Exception {
        try (ModeRig rig = new ModeRig(engine)) {
            rig.gate64(0x81, ModeRig.CODE + 0x80, 3);
            for (int v = 0; v < 32; v++) {
                rig.gate64(v, ModeRig.CODE + 0x100 + 16L * v, 0);
            }
            rig.machine.memory.write(layout.data(), data);
            VcpuExit exit = real ? rig.runReal(program, io.vmguard.engine.Registers.builder()) : rig.runLong(program);
            if (exit instanceof VcpuExit.IoOut fault && fault.port() == 0xe1) {
                int vector = fault.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0);
                long rsp = rig.machine.vcpu.registers().rsp();
                int skip = GuestFault.pushesErrorCode(vector) ? 8 : 0;
                long eip = rig.machine.memory.slice(rsp + skip, 8).get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0);
                byte[] bytes = rig.machine.memory.readBytes(eip, 8);
                fail(engine.name() + ": exception " + vector + " in the ring-3 code at 0x" + Long.toHexString(eip) + " (bytes "
                        + java.util.HexFormat.ofDelimiter(" ").formatHex(bytes) + ", CR2 0x"
                        + Long.toHexString(rig.machine.vcpu.specialRegisters().cr2()) + ")");
            }
            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, exit, () -> engine.name() + " ended with " + exit);
            assertEquals(0xe0, out.port());
            byte[] result = new byte[CASES * SLOT + DATA_SIZE];
            System.arraycopy(rig.machine.memory.readBytes(layout.results(), CASES * SLOT), 0, result, 0, CASES * SLOT);
            System.arraycopy(rig.machine.memory.readBytes(layout.data(), DATA_SIZE), 0, result, CASES * SLOT, DATA_SIZE);
            return result;
        }
    }

    private static int readInt(byte[] bytes, int at) {
        return (bytes[at] & 0xff) | (bytes[at + 1] & 0xff) << 8 | (bytes[at + 2] & 0xff) << 16 | (bytes[at + 3] & 0xff) << 24;
    }
}
