package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.DifferentialHarness.AF;
import static io.vmguard.engine.interp.DifferentialHarness.ARITHMETIC;
import static io.vmguard.engine.interp.DifferentialHarness.CF;
import static io.vmguard.engine.interp.DifferentialHarness.OF;
import static io.vmguard.engine.interp.DifferentialHarness.PF;
import static io.vmguard.engine.interp.DifferentialHarness.R16;
import static io.vmguard.engine.interp.DifferentialHarness.R32;
import static io.vmguard.engine.interp.DifferentialHarness.R64;
import static io.vmguard.engine.interp.DifferentialHarness.R8;
import static io.vmguard.engine.interp.DifferentialHarness.HIGH8;
import static io.vmguard.engine.interp.DifferentialHarness.RAX;
import static io.vmguard.engine.interp.DifferentialHarness.RCX;
import static io.vmguard.engine.interp.DifferentialHarness.RDX;
import static io.vmguard.engine.interp.DifferentialHarness.RSP;
import static io.vmguard.engine.interp.DifferentialHarness.SF;
import static io.vmguard.engine.interp.DifferentialHarness.ZF;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.interp.DifferentialHarness.Case;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The interpreter's integer instructions against the host CPU (in a host process, and in KVM's ring 3 where
 * /dev/kvm opens: see {@link DifferentialHarness}), with random operands
 * from a fixed, printed seed (-Dvmguard.diff.seed=N for others) plus edge values; see
 * {@link DifferentialHarness}. Flags the SDM leaves undefined after an instruction are masked per case,
 * with the rule cited where the mask is set. The interpreter is an Intel CPU: cases where AMD processors
 * architecturally differ are marked with their {@link VendorDifference}, which an AMD host skips or normalises.
 *
 * <p>Both oracles run the code as a host process would run it (this host's KVM runs guest ring 3 at the host's
 * ring 3), so some state is the host's and no oracle: IF and IOPL in RFLAGS (masked everywhere), NT after a VM exit (a host NT lost is accepted in the
 * cases that set it, see {@link DifferentialHarness}), segment selectors (MOV from Sreg, PUSH FS/GS: not
 * tested), and the delivery of INT n/INT3 through DPL-0 gates and of faults on upper-half addresses (not
 * tested). Flag images pushed by PUSHF have IF and IOPL cleared by the test code before they are compared.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class IntegerDifferentialTest {
    private static final int[] SIZES = {1, 2, 4, 8};

    private DifferentialHarness harness;
    private Random random;

    private DifferentialHarness harness(TestInfo info) {
        String name = info.getTestMethod().orElseThrow().getName();
        harness = new DifferentialHarness(name, DifferentialHarness.seedFor(name));
        random = harness.random;
        return harness;
    }

    // ---- operand helpers ----

    static String suffix(int size) {
        return switch (size) {
            case 1 -> "b";
            case 2 -> "w";
            case 4 -> "l";
            default -> "q";
        };
    }

    /** Register {@code r} at {@code size}; with {@code legacy}, byte registers 4-7 are AH..BH. */
    static String reg(int r, int size, boolean legacy) {
        return "%" + switch (size) {
            case 1 -> legacy && r >= 4 ? HIGH8[r - 4] : R8[r];
            case 2 -> R16[r];
            case 4 -> R32[r];
            default -> R64[r];
        };
    }

    static String reg(int r, int size) {
        return reg(r, size, false);
    }

    /** A random register number below {@code limit}, none of those in {@code used} (a bit per register). */
    private int pick(int limit, int used) {
        while (true) {
            int r = random.nextInt(limit);
            if ((used & (1 << r)) == 0) {
                return r;
            }
        }
    }

    /** An immediate of the instruction's width ({@code size} bytes, at most 32 bits sign-extended). */
    private long imm(int size) {
        long v = random.nextInt(3) == 0 ? random.nextInt(256) - 128 : harness.value();
        return switch (size) {
            case 1 -> (byte) v;
            case 2 -> (short) v;
            default -> (int) v;
        };
    }

    // ---- ADD OR ADC SBB AND SUB XOR CMP TEST ----

    private static final String[] ALU = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test"};

    /** SDM: AND, OR, XOR and TEST clear OF and CF and leave AF undefined; the additive ones define all six. */
    private static long aluUndefined(String op) {
        return op.equals("and") || op.equals("or") || op.equals("xor") || op.equals("test") ? AF : 0;
    }

    @Test
    void aluBinaryOperations(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 3000; i++) {
            String op = ALU[random.nextInt(ALU.length)];
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0;
            int limit = legacy ? 8 : 16;
            String s = suffix(size);
            int a = pick(limit, 0);
            int b = pick(limit, 0);
            int form = random.nextInt(op.equals("test") ? 4 : 6);
            Case c;
            switch (form) {
                case 0 -> c = h.add(op + s + " " + reg(b, size, legacy) + ", " + reg(a, size, legacy));
                case 1 -> {
                    c = h.add(op, "");
                    c.code(op + s + " " + reg(b, size, legacy) + ", " + c.mem(random.nextInt(64), 1 << b, !legacy));
                }
                case 2 -> c = h.add(op + s + " $" + imm(size) + ", " + reg(a, size, legacy));
                case 3 -> c = h.add(op + s + " $" + imm(size) + ", " + reg(RAX, size)); // accumulator short form
                case 4 -> {
                    c = h.add(op, "");
                    c.code(op + s + " " + c.mem(random.nextInt(64), 1 << a, !legacy) + ", " + reg(a, size, legacy));
                }
                default -> {
                    c = h.add(op, "");
                    c.code(op + s + " $" + imm(size) + ", " + c.mem(random.nextInt(64), 0, true));
                }
            }
            c.undefined(aluUndefined(op));
        }
        h.assertAgree();
    }

    // ---- INC DEC NEG NOT ----

    @Test
    void unaryOperations(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] ops = {"inc", "dec", "neg", "not"};
        for (int i = 0; i < 1200; i++) {
            String op = ops[random.nextInt(ops.length)];
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0;
            Case c = h.add(op, "");
            String operand = random.nextInt(3) == 0 ? c.mem(random.nextInt(64), 0, true) : reg(pick(legacy ? 8 : 16, 0), size, legacy);
            c.code(op + suffix(size) + " " + operand);
            // SDM: INC and DEC leave CF alone and set the others; NEG sets all six; NOT changes no flag.
        }
        h.assertAgree();
    }

    // ---- shifts and rotates ----

    private static final String[] SHIFTS = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"};

    /**
     * SDM (SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR): a masked count of 0 changes no flag. Otherwise OF is defined
     * only for 1-bit shifts and rotates; shifts leave AF undefined (and set SF, ZF, PF); SHL and SHR leave CF
     * undefined when the count is at least the operand's width (possible for 8- and 16-bit operands).
     * Rotates change only CF and OF.
     */
    static long shiftUndefined(String op, int size, int count) {
        int masked = count & (size == 8 ? 63 : 31);
        if (masked == 0) {
            return 0;
        }
        long undefined = masked == 1 ? 0 : OF;
        if (op.startsWith("s")) {
            undefined |= AF;
            if (!op.equals("sar") && masked >= size * 8) {
                undefined |= CF;
            }
        }
        return undefined;
    }

    private int shiftCount() {
        return switch (random.nextInt(4)) {
            case 0 -> random.nextInt(256);
            case 1 -> new int[] {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65}[random.nextInt(14)];
            default -> random.nextInt(71);
        };
    }

    @Test
    void shiftsAndRotates(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 3000; i++) {
            String op = SHIFTS[random.nextInt(SHIFTS.length)];
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0;
            int countForm = random.nextInt(3); // 0: by 1 (D0/D1), 1: by CL, 2: by imm8 (C0/C1)
            int count = countForm == 0 ? 1 : shiftCount();
            Case c = h.add(op, "");
            int used = countForm == 1 ? 1 << RCX : 0;
            String operand = random.nextInt(3) == 0 ? c.mem(random.nextInt(64), used, true)
                    : reg(pick(legacy ? 8 : 16, used), size, legacy);
            String countText = switch (countForm) {
                case 0 -> random.nextBoolean() ? "" : "$1, ";
                case 1 -> "%cl, ";
                default -> "$" + count + ", ";
            };
            if (countForm == 1) {
                c.reg(RCX, (harness.value() & ~0xffL) | count);
            }
            c.code(op + suffix(size) + " " + countText + operand);
            c.undefined(shiftUndefined(op, size, count));
        }
        // Encodings GAS does not pick: C1 /4 with a count of 1, and the SAL alias /6 (D1 /6, C1 /6, D3 /6).
        for (int i = 0; i < 200; i++) {
            int r = random.nextInt(8);
            int group = random.nextInt(8);
            int count = random.nextInt(4) == 0 ? 1 : shiftCount();
            String op = SHIFTS[group == 6 ? 4 : group];
            int form = random.nextInt(3);
            String bytes = switch (form) {
                case 0 -> String.format(".byte 0xc1, 0x%x, %d", 0xc0 | group << 3 | r, count);
                case 1 -> String.format(".byte 0xd1, 0x%x", 0xc0 | group << 3 | r);
                default -> String.format(".byte 0x48, 0xd3, 0x%x", 0xc0 | group << 3 | r);
            };
            int size = form == 2 ? 8 : 4;
            int effective = form == 1 ? 1 : count;
            Case c = h.add(op + "-raw", bytes);
            if (form == 2) {
                c.reg(RCX, (harness.value() & ~0xffL) | count);
            }
            c.undefined(shiftUndefined(op, size, effective));
        }
        h.assertAgree();
    }

    /**
     * SDM (SHLD/SHRD): a masked count of 0 changes nothing. A count above the operand width (16-bit only)
     * leaves the result and all flags undefined. Otherwise CF is the last bit shifted out, SF ZF PF follow
     * the result, OF is defined only for a count of 1 and AF is undefined.
     */
    @Test
    void doublePrecisionShifts(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        int[] sizes = {2, 4, 8};
        for (int i = 0; i < 1500; i++) {
            String op = random.nextBoolean() ? "shld" : "shrd";
            int size = sizes[random.nextInt(3)];
            boolean byCl = random.nextBoolean();
            boolean memory = random.nextInt(3) == 0;
            int count = shiftCount();
            int masked = count & (size == 8 ? 63 : 31);
            if (memory && masked > size * 8) {
                count = masked = size * 8; // an undefined result in memory could not be masked out
            }
            int used = byCl ? 1 << RCX : 0;
            int src = pick(16, used);
            Case c = h.add(op, "");
            String dst;
            int dstReg = -1;
            if (memory) {
                dst = c.mem(random.nextInt(64), used | 1 << src, true);
            } else {
                dstReg = pick(16, used);
                dst = reg(dstReg, size);
            }
            if (byCl) {
                c.reg(RCX, (harness.value() & ~0xffL) | count);
            }
            c.code(op + suffix(size) + " " + (byCl ? "%cl" : "$" + count) + ", " + reg(src, size) + ", " + dst);
            if (masked > size * 8) {
                c.undefined(ARITHMETIC).undefinedReg(dstReg);
            } else if (masked != 0) {
                c.undefined(AF | (masked == 1 ? 0 : OF));
            }
        }
        h.assertAgree();
    }

    // ---- multiply and divide ----

    /** SDM (MUL, IMUL): CF and OF say whether the high half is significant; SF ZF AF PF are undefined. */
    private static final long MUL_UNDEFINED = SF | ZF | AF | PF;

    @Test
    void multiplies(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 2000; i++) {
            int form = random.nextInt(4);
            Case c = h.add("mul", "");
            if (form < 2) { // MUL / IMUL r/m: RDX:RAX = RAX * r/m
                String op = form == 0 ? "mul" : "imul";
                int size = SIZES[random.nextInt(4)];
                boolean legacy = size == 1 && random.nextInt(3) == 0;
                String src = random.nextInt(3) == 0 ? c.mem(random.nextInt(64), 1 << RAX | 1 << RDX, !legacy)
                        : reg(pick(legacy ? 8 : 16, 0), size, legacy);
                c.code(op + suffix(size) + " " + src);
            } else {
                int size = SIZES[1 + random.nextInt(3)];
                int dst = pick(16, 0);
                String src = random.nextInt(3) == 0 ? c.mem(random.nextInt(64), 1 << dst, true) : reg(pick(16, 0), size);
                c.code(form == 2 ? "imul" + suffix(size) + " " + src + ", " + reg(dst, size)
                        : "imul" + suffix(size) + " $" + imm(size) + ", " + src + ", " + reg(dst, size));
            }
            c.undefined(MUL_UNDEFINED);
        }
        h.assertAgree();
    }

    /** SDM (DIV, IDIV): all six arithmetic flags are undefined. */
    @Test
    void divides(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 2000; i++) {
            boolean signed = random.nextBoolean();
            int size = SIZES[random.nextInt(4)];
            int bits = size * 8;
            BigInteger d;
            BigInteger dividend;
            if (signed) {
                long dv;
                do {
                    dv = Flags.signExtend(harness.value(), size);
                } while (dv == 0);
                d = BigInteger.valueOf(dv);
                BigInteger q = BigInteger.valueOf(Flags.signExtend(harness.value(), size));
                BigInteger product = q.multiply(d);
                BigInteger r = new BigInteger(bits, random).mod(d.abs());
                if (product.signum() < 0 || (product.signum() == 0 && random.nextBoolean())) {
                    r = r.negate();
                }
                dividend = product.add(r);
            } else {
                long dv;
                do {
                    dv = harness.value() & Flags.mask(size);
                } while (dv == 0);
                d = new BigInteger(Long.toUnsignedString(dv));
                BigInteger q = new BigInteger(bits, random);
                dividend = q.multiply(d).add(new BigInteger(bits, random).mod(d));
            }
            divideCase(h, signed, size, d.longValue(), dividend);
        }
        // #DE on both: division by zero, and quotients too large (including the most negative over -1).
        for (int size : SIZES) {
            int bits = size * 8;
            BigInteger min = BigInteger.ONE.shiftLeft(bits - 1).negate();
            for (boolean signed : new boolean[] {false, true}) {
                divideCase(h, signed, size, 0, BigInteger.valueOf(12345));
                divideCase(h, signed, size, 0, BigInteger.ZERO);
            }
            divideCase(h, true, size, -1, min);
            divideCase(h, true, size, -1, min.negate().subtract(BigInteger.ONE));
            divideCase(h, true, size, 1, min.negate());
            divideCase(h, true, size, 1, min.subtract(BigInteger.ONE));
            divideCase(h, true, size, 2, min.shiftLeft(1));
            divideCase(h, true, size, 2, min.shiftLeft(1).subtract(BigInteger.ONE));
            divideCase(h, true, size, -2, min.shiftLeft(1).negate());
            divideCase(h, false, size, 1, BigInteger.ONE.shiftLeft(bits));
            divideCase(h, false, size, 3, BigInteger.ONE.shiftLeft(2 * bits).subtract(BigInteger.ONE));
            divideCase(h, false, size, -1, BigInteger.ONE.shiftLeft(2 * bits).subtract(BigInteger.ONE));
        }
        h.assertAgree();
    }

    private void divideCase(DifferentialHarness h, boolean signed, int size, long divisor, BigInteger dividend) {
        int bits = size * 8;
        String op = signed ? "idiv" : "div";
        Case c = h.add(op, "");
        BigInteger wide = dividend.and(BigInteger.ONE.shiftLeft(2 * bits).subtract(BigInteger.ONE));
        long low = wide.longValue();
        long high = wide.shiftRight(bits).longValue();
        if (size == 1) {
            c.reg(RAX, (c.regs[RAX] & ~0xffffL) | (low & 0xffff));
        } else if (size == 8) {
            c.reg(RAX, low).reg(RDX, high);
        } else {
            long m = Flags.mask(size);
            c.reg(RAX, (c.regs[RAX] & ~m) | (low & m)).reg(RDX, (c.regs[RDX] & ~m) | (high & m));
        }
        String src;
        if (random.nextInt(3) == 0) {
            int offset = random.nextInt(64);
            src = c.mem(offset, 1 << RAX | 1 << RDX, true);
            c.scratch(offset, divisor, size);
        } else {
            // Not AL/AH (or RAX/RDX): the divisor must not be part of the dividend.
            int r = size == 1 ? 8 + random.nextInt(8) : pick(16, 1 << RAX | 1 << RDX | 1 << RSP);
            src = reg(r, size);
            long m = Flags.mask(size);
            c.reg(r, (c.regs[r] & ~m) | (divisor & m));
        }
        c.code(op + suffix(size) + " " + src);
        c.undefined(ARITHMETIC);
    }

    // ---- moves, conversions, LEA, XCHG, BSWAP (no flag changes) ----

    @Test
    void extensionsAndConversions(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[][] extensions = {{"movzbw", "1", "2"}, {"movzbl", "1", "4"}, {"movzbq", "1", "8"}, {"movzwl", "2", "4"},
                {"movzwq", "2", "8"}, {"movsbw", "1", "2"}, {"movsbl", "1", "4"}, {"movsbq", "1", "8"},
                {"movswl", "2", "4"}, {"movswq", "2", "8"}, {"movslq", "4", "8"}};
        for (int i = 0; i < 1200; i++) {
            String[] e = extensions[random.nextInt(extensions.length)];
            int from = Integer.parseInt(e[1]);
            int to = Integer.parseInt(e[2]);
            // AH..BH as the source: no REX, so not with a 64-bit destination or r8-r15.
            boolean legacy = from == 1 && to < 8 && random.nextInt(3) == 0;
            Case c = h.add(e[0], "");
            int dst = pick(legacy ? 8 : 16, 0);
            String src = random.nextInt(3) == 0 ? c.mem(random.nextInt(64), 0, !legacy) : reg(pick(legacy ? 8 : 16, 0), from, legacy);
            c.code(e[0] + " " + src + ", " + reg(dst, to, false));
        }
        String[] conversions = {"cbtw", "cwtl", "cltq", "cwtd", "cltd", "cqto"};
        for (int i = 0; i < 300; i++) {
            h.add(conversions[i % conversions.length]);
        }
        // MOVSXD without REX.W (63 /r): a 32-bit move, zero-extending; and with 66, a 16-bit one.
        for (int i = 0; i < 100; i++) {
            int dst = random.nextInt(8);
            int src = random.nextInt(8);
            h.add("movsxd-32", String.format(".byte 0x63, 0x%x", 0xc0 | dst << 3 | src));
            h.add("movsxd-16", String.format(".byte 0x66, 0x63, 0x%x", 0xc0 | dst << 3 | src));
        }
        for (int i = 0; i < 300; i++) {
            h.add("bswap" + (i % 2 == 0 ? "l" : "q") + " " + reg(random.nextInt(16), i % 2 == 0 ? 4 : 8));
        }
        h.assertAgree();
    }

    @Test
    void loadEffectiveAddress(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        int[] sizes = {2, 4, 8};
        for (int i = 0; i < 1500; i++) {
            int size = sizes[random.nextInt(3)];
            int dst = random.nextInt(16);
            int base = random.nextInt(16);
            int index = pick(16, 1 << RSP);
            int scale = 1 << random.nextInt(4);
            long disp = switch (random.nextInt(3)) {
                case 0 -> 0;
                case 1 -> random.nextInt(256) - 128;
                default -> random.nextInt();
            };
            boolean addr32 = random.nextInt(3) == 0;
            String[] names = addr32 ? R32 : R64;
            String address = switch (random.nextInt(7)) {
                case 0 -> disp + "(%" + names[base] + ")";
                case 1 -> "(%" + names[base] + ")";
                case 2 -> disp + "(%" + names[base] + ",%" + names[index] + "," + scale + ")";
                case 3 -> disp + "(,%" + names[index] + "," + scale + ")";
                case 4 -> "(%" + names[base] + ",%" + names[index] + ")";
                case 5 -> disp + "(%" + (addr32 ? "eip" : "rip") + ")";
                default -> Integer.toString((int) disp);
            };
            if (addr32 && address.matches("-?\\d+")) {
                address = ".byte 0x67; lea" + suffix(size) + " " + disp;
                h.add("lea-abs32", address + ", " + reg(dst, size));
                continue;
            }
            h.add("lea" + suffix(size) + " " + address + ", " + reg(dst, size));
        }
        h.assertAgree();
    }

    @Test
    void exchanges(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 800; i++) {
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0;
            int a = pick(legacy ? 8 : 16, 0);
            Case c = h.add("xchg", "");
            String other = random.nextInt(3) == 0 ? c.mem(random.nextInt(64), 1 << a, !legacy)
                    : reg(pick(legacy ? 8 : 16, 0), size, legacy);
            c.code("xchg" + suffix(size) + " " + reg(a, size, legacy) + ", " + other);
        }
        // 90+r: XCHG with the accumulator; 90 itself is NOP (no zero-extension), but 87 C0 and 41 90 are not.
        for (int r = 0; r < 16; r++) {
            String rex = r >= 8 ? "0x41, " : "";
            h.add("xchg-eax-short", String.format(".byte %s0x%x", rex, 0x90 | (r & 7)));
            h.add("xchg-rax-short", String.format(".byte 0x%x, 0x%x", 0x48 | (r >> 3), 0x90 | (r & 7)));
            h.add("xchg-ax-short", String.format(".byte 0x66, %s0x%x", rex, 0x90 | (r & 7)));
        }
        h.add("xchg-eax-eax", ".byte 0x87, 0xc0");
        h.add("nop", ".byte 0x90");
        h.assertAgree();
    }

    // ---- bit tests and bit scans ----

    /** SDM (BT, BTS, BTR, BTC): CF is the bit; ZF is unaffected; OF, SF, AF and PF are undefined. */
    private static final long BT_UNDEFINED = OF | SF | AF | PF;

    @Test
    void bitTests(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] ops = {"bt", "bts", "btr", "btc"};
        int[] sizes = {2, 4, 8};
        for (int i = 0; i < 2500; i++) {
            String op = ops[random.nextInt(4)];
            int size = sizes[random.nextInt(3)];
            int bits = size * 8;
            boolean memory = random.nextBoolean();
            boolean immediate = random.nextInt(3) == 0;
            boolean lock = memory && !op.equals("bt") && random.nextInt(4) == 0;
            Case c = h.add(op, "");
            String offset;
            int offsetReg = -1;
            if (immediate) {
                offset = "$" + random.nextInt(256);
            } else {
                offsetReg = pick(16, 0);
                long value;
                if (memory) {
                    // A register offset is signed and reaches outside the operand: up to +-1008 bytes here, so
                    // the access stays inside the scratch page (see pageStraddlingAccesses).
                    value = random.nextInt(3) == 0 ? random.nextInt(bits) : random.nextInt(16128) - 8064;
                    long m = Flags.mask(size);
                    value = (harness.value() & ~m) | (value & m);
                } else {
                    value = harness.value();
                }
                c.reg(offsetReg, value);
                offset = reg(offsetReg, size);
            }
            String dst = memory ? c.mem(0x400 + random.nextInt(8), offsetReg >= 0 ? 1 << offsetReg : 0, true)
                    : reg(pick(16, offsetReg >= 0 ? 1 << offsetReg : 0), size);
            c.code((lock ? "lock " : "") + op + suffix(size) + " " + offset + ", " + dst);
            c.undefined(BT_UNDEFINED);
        }
        h.assertAgree();
    }

    /**
     * SDM: BSF/BSR set ZF (source zero) and leave CF OF SF AF PF undefined, and the destination undefined
     * for a zero source; TZCNT/LZCNT set CF (source zero) and ZF (result zero), OF SF AF PF undefined;
     * POPCNT clears OF SF AF CF PF and sets ZF for a zero source.
     *
     * <p>The BSF/BSR destination for a zero source is compared all the same, on purpose: Intel and AMD CPUs
     * leave it unchanged (AMD documents it, Linux's ffs/fls rely on it) and the interpreter must too.
     */
    @Test
    void bitScansAndCounts(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String cpuFlags = hostCpuFlags();
        boolean lzcnt = cpuFlags.contains(" abm ") || cpuFlags.contains(" lzcnt ");
        boolean tzcnt = cpuFlags.contains(" bmi1 ");
        boolean popcnt = cpuFlags.contains(" popcnt ");
        int[] sizes = {2, 4, 8};
        List<String> ops = new ArrayList<>(List.of("bsf", "bsr"));
        if (lzcnt) {
            ops.add("lzcnt");
        }
        if (tzcnt) {
            ops.add("tzcnt");
        }
        if (popcnt) {
            ops.add("popcnt");
        }
        for (int i = 0; i < 1500; i++) {
            String op = ops.get(random.nextInt(ops.size()));
            int size = sizes[random.nextInt(3)];
            int dst = pick(16, 0);
            Case c = h.add(op, "");
            long value = random.nextInt(4) == 0 ? 0 : random.nextBoolean() ? 1L << random.nextInt(64) : harness.value();
            String src;
            if (random.nextInt(3) == 0) {
                int offset = random.nextInt(64);
                src = c.mem(offset, 1 << dst, true);
                c.scratch(offset, value, size);
            } else {
                int r = pick(16, 0);
                c.reg(r, value);
                src = reg(r, size);
            }
            c.code(op + suffix(size) + " " + src + ", " + reg(dst, size));
            switch (op) {
                case "bsf", "bsr" -> c.undefined(CF | OF | SF | AF | PF);
                case "lzcnt", "tzcnt" -> c.undefined(OF | SF | AF | PF);
                default -> { }
            }
        }
        h.assertAgree();
        assumeTrue(lzcnt && tzcnt && popcnt,
                "host CPU lacks LZCNT, TZCNT or POPCNT (" + (lzcnt ? "" : "no abm/lzcnt ") + (tzcnt ? "" : "no bmi1 ")
                        + (popcnt ? "" : "no popcnt") + "): only the instructions it has were compared");
    }

    private static String hostCpuFlags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return line.substring(line.indexOf(':') + 1) + " ";
                }
            }
        } catch (IOException e) {
            // no /proc/cpuinfo: claim nothing
        }
        return " ";
    }

    // ---- SETcc, CMOVcc, Jcc after every kind of flag producer ----

    static final String[] CONDITIONS = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};

    /**
     * A flag-setting instruction whose flags are all defined except AF (which no condition reads): the
     * additive and logical operations, INC/DEC (CF from the seed), NEG, 1-bit shifts, CLC/STC/CMC, SAHF and
     * POPCNT. Returns the text; sets the case's undefined flags.
     */
    private String producer(Case c, int avoid) {
        int size = SIZES[random.nextInt(4)];
        String s = suffix(size);
        int a = pick(16, avoid);
        int b = pick(16, avoid);
        String[] binary = {"cmp", "sub", "add", "adc", "sbb", "and", "or", "xor", "test"};
        int kind = random.nextInt(16);
        if (kind < 9) {
            String op = binary[kind];
            c.undefined(aluUndefined(op));
            if (random.nextInt(4) == 0) { // equal operands: ZF, and the boundaries of the signed conditions
                c.reg(b, c.regs[a]);
            }
            return random.nextInt(4) == 0 ? op + s + " $" + imm(size) + ", " + reg(a, size)
                    : op + s + " " + reg(b, size) + ", " + reg(a, size);
        }
        return switch (kind) {
            case 9 -> "inc" + s + " " + reg(a, size);
            case 10 -> "dec" + s + " " + reg(a, size);
            case 11 -> "neg" + s + " " + reg(a, size);
            case 12 -> {
                c.undefined(AF);
                yield new String[] {"shl", "shr", "sar"}[random.nextInt(3)] + s + " " + reg(a, size);
            }
            case 13 -> new String[] {"clc", "stc", "cmc"}[random.nextInt(3)];
            case 14 -> "sahf";
            default -> "popcnt" + (size == 1 ? "w" : s) + " " + reg(b, Math.max(size, 2)) + ", " + reg(a, Math.max(size, 2));
        };
    }

    @Test
    void conditionsAfterEveryFlagProducer(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 4000; i++) {
            String cc = CONDITIONS[random.nextInt(16)];
            Case c = h.add("cc", "");
            int t = pick(16, 0);
            // The consumer's memory operand is chosen first, so the producer can keep off its base and index.
            String consumer = switch (random.nextInt(6)) {
                case 0 -> "set" + cc + " " + reg(t, 1);
                case 1 -> "set" + cc + " " + reg(random.nextInt(8), 1, true); // AH..BH too: no REX here
                case 2 -> "set" + cc + " " + c.mem(random.nextInt(64), 0, true);
                case 3 -> {
                    int size = SIZES[1 + random.nextInt(3)];
                    String src = random.nextBoolean() ? c.mem(random.nextInt(64), 1 << t, true) : reg(pick(16, 0), size);
                    yield "cmov" + cc + suffix(size) + " " + src + ", " + reg(t, size);
                }
                case 4 -> "movl $0, " + reg(t, 4) + "\nj" + cc + " 1f\nmovl $1, " + reg(t, 4) + "\n1:";
                default -> "movl $0, " + reg(t, 4) + "\n{disp32} j" + cc + " 1f\nmovl $1, " + reg(t, 4) + "\n1:";
            };
            c.code(producer(c, c.addressRegs) + "\n" + consumer);
        }
        // Two consumers of one producer, and a condition read after a non-flag instruction in between.
        for (int i = 0; i < 500; i++) {
            Case c = h.add("cc2", "");
            String flags = producer(c, 0);
            c.code(flags + "\nset" + CONDITIONS[random.nextInt(16)] + " %r8b\nlea 1(%r9), %r9\nset"
                    + CONDITIONS[random.nextInt(16)] + " %r10b\ncmov" + CONDITIONS[random.nextInt(16)] + "l %r11d, %r12d");
        }
        h.assertAgree();
    }

    /**
     * Jcc straight after its flag producer: the interpreter fuses CMP and TEST of registers or immediates
     * with the branch after them and works the condition out from the operands, so every condition after
     * every such compare (and after the producers it does not fuse) must still branch as the CPU does.
     */
    @Test
    void branchesRightAfterTheirCompare(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 3000; i++) {
            String cc = CONDITIONS[random.nextInt(16)];
            Case c = h.add("jcc-fused", "");
            int t = pick(16, 1 << CpuState.RSP);
            String jump = random.nextBoolean() ? "j" + cc + " 1f" : "{disp32} j" + cc + " 1f";
            c.code("movl $0, " + reg(t, 4) + "\n" + producer(c, 1 << t) + "\n" + jump + "\nmovl $1, " + reg(t, 4) + "\n1:");
        }
        h.assertAgree();
    }

    @Test
    void loopsAndJrcxz(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 800; i++) {
            int form = random.nextInt(6);
            long count = random.nextInt(4) == 0 ? 0 : random.nextInt(20);
            long garbage = random.nextBoolean() ? 0 : harness.value() << 32;
            Case c = h.add("loop", "");
            switch (form) {
                case 0 -> {
                    c.reg(RCX, count == 0 ? 1 : count);
                    c.code("xor %r8d, %r8d\n1: add $3, %r8\nloop 1b");
                }
                case 1 -> { // LOOPNE ends on the count or when R8 reaches R9, whichever first
                    c.reg(RCX, count == 0 ? 1 : count).reg(9, random.nextInt(30));
                    c.code("xor %r8d, %r8d\n1: add $1, %r8\ncmp %r9, %r8\nloopne 1b");
                }
                case 2 -> { // LOOPE ends on the count or when R8 reaches a bit of R10
                    c.reg(RCX, count == 0 ? 1 : count).reg(10, 1L << random.nextInt(6));
                    c.code("xor %r8d, %r8d\n1: add $1, %r8\ntest %r8, %r10\nloope 1b");
                }
                case 3 -> { // 0x67: ECX counts, and its upper half?
                    c.reg(RCX, garbage | (count == 0 ? 1 : count));
                    c.code("xor %r8d, %r8d\n1: add $3, %r8\naddr32 loop 1b");
                }
                case 4 -> {
                    c.reg(RCX, random.nextBoolean() ? 0 : harness.value());
                    c.code("movl $0, %r8d\njrcxz 1f\nmovl $1, %r8d\n1:");
                }
                default -> {
                    c.reg(RCX, garbage | (random.nextBoolean() ? 0 : harness.value() & 0xffff_ffffL));
                    c.code("movl $0, %r8d\njecxz 1f\nmovl $1, %r8d\n1:");
                }
            }
        }
        h.assertAgree();
    }

    // ---- string instructions ----

    /**
     * MOVS STOS LODS SCAS CMPS at every width, plain and with REP/REPE/REPNE (F2 on MOVS/STOS/LODS acts
     * as REP), DF clear and set, with 64-bit and (0x67) 32-bit addressing whose register upper halves are
     * garbage. For SCAS and CMPS the compared areas are made mostly equal, so REPE/REPNE stop in the middle.
     * Flags: CMPS and SCAS set all six as CMP does; the others change none.
     */
    @Test
    void stringInstructions(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] ops = {"movs", "stos", "lods", "scas", "cmps"};
        for (int i = 0; i < 2500; i++) {
            String op = ops[random.nextInt(ops.length)];
            int size = SIZES[random.nextInt(4)];
            boolean down = random.nextBoolean();
            boolean addr32 = random.nextInt(4) == 0;
            int prefix = random.nextInt(4); // none, F3, F2, F3 with RCX = 0
            boolean compare = op.equals("scas") || op.equals("cmps");
            int count = prefix == 3 ? 0 : random.nextInt(25);
            Case c = h.add(op, "");
            c.flags((c.rflags & ~DifferentialHarness.DF) | (down ? DifferentialHarness.DF : 0));
            long span = (long) count * size;
            long source = c.scratch() + (down ? 0x300 - size : 0x100) + random.nextInt(16);
            long destination = random.nextInt(6) == 0 ? source + (random.nextInt(33) - 16) // overlapping MOVS
                    : c.scratch() + (down ? 0x700 - size : 0x400) + random.nextInt(16);
            if (compare) {
                // The destination area starts as a copy of the source, with one element (maybe) changed.
                long from = down ? source - span : source;
                long to = down ? destination - span : destination;
                byte[] copy = c.bytes(from, (int) span + size);
                c.bytes(to, copy);
                if (random.nextInt(4) != 0 && count > 0) {
                    int k = random.nextInt(count);
                    long at = down ? destination - (long) k * size : destination + (long) k * size;
                    c.scratch((int) (at - c.scratch()), harness.value(), 1 + random.nextInt(size));
                }
                if (op.equals("scas")) {
                    // RAX: an element of the destination area, or not.
                    int k = count > 0 ? random.nextInt(count) : 0;
                    long at = down ? destination - (long) k * size : destination + (long) k * size;
                    long element = 0;
                    byte[] b = c.bytes(at, size);
                    for (int j = size - 1; j >= 0; j--) {
                        element = element << 8 | (b[j] & 0xff);
                    }
                    long m = Flags.mask(size);
                    c.reg(RAX, random.nextInt(3) == 0 ? harness.value() : (c.regs[RAX] & ~m) | element);
                }
            }
            long high = addr32 ? harness.value() << 32 : 0;
            c.reg(DifferentialHarness.RSI, high ^ source).reg(DifferentialHarness.RDI, (addr32 ? harness.value() << 32 : 0) ^ destination);
            c.reg(RCX, (prefix == 0 ? harness.value() : (addr32 ? harness.value() << 32 : 0)) | count);
            String rep = switch (prefix) {
                case 0 -> "";
                case 2 -> ".byte 0xf2; ";
                default -> ".byte 0xf3; ";
            };
            c.code((addr32 ? ".byte 0x67; " : "") + rep + op + suffix(size));
            if (addr32 && prefix != 0 && (int) c.regs[RCX] == 0) {
                // ECX = 0 under REP: Intel writes ECX (and for MOVS/STOS ESI/EDI) back zero-extended, AMD nothing.
                int pointers = switch (op) {
                    case "movs", "cmps" -> 1 << DifferentialHarness.RSI | 1 << DifferentialHarness.RDI;
                    case "lods" -> 1 << DifferentialHarness.RSI;
                    default -> 1 << DifferentialHarness.RDI;
                };
                c.vendorSpecific(VendorDifference.ADDR32_REP_STRING_ZERO_COUNT, 1 << RCX | pointers);
            }
        }
        // Long REP runs over the shared bulk area, past the interpreter's batch of iterations per step.
        String[] longRuns = {"rep movsb", "rep movsq", "rep stosb", "rep stosl", "rep lodsb", "repe cmpsb", "rep movsw",
                "repne cmpsq", "repe scasb"};
        for (int i = 0; i < 40; i++) {
            String op = longRuns[random.nextInt(longRuns.length)];
            int size = switch (op.charAt(op.length() - 1)) {
                case 'b' -> 1;
                case 'w' -> 2;
                case 'l' -> 4;
                default -> 8;
            };
            boolean down = random.nextBoolean();
            int count = 4000 + random.nextInt(4000 / size + 1);
            long span = (long) count * size;
            long low = DifferentialHarness.BULK + random.nextInt(64);
            long high = DifferentialHarness.BULK + DifferentialHarness.BULK_SIZE - 64 - random.nextInt(64);
            Case c = h.add("long-" + op.replace(' ', '-'), op);
            c.flags((c.rflags & ~DifferentialHarness.DF) | (down ? DifferentialHarness.DF : 0));
            // Source and destination each within the bulk area, overlapping or not.
            long source = down ? high - random.nextInt((int) (high - low - span)) : low + random.nextInt((int) (high - low - span));
            long destination = random.nextBoolean() ? source
                    : down ? high - random.nextInt((int) (high - low - span)) : low + random.nextInt((int) (high - low - span));
            // Element-aligned: unaligned elements straddling pages are pageStraddlingAccesses' business.
            c.reg(DifferentialHarness.RSI, source & -size).reg(DifferentialHarness.RDI, destination & -size).reg(RCX, count);
        }
        // INS from the stream port (bytes 0, 1, 2 ... in each engine's run) and OUTS to an unclaimed port:
        // one VM exit per element, so short counts.
        for (int i = 0; i < 300; i++) {
            boolean in = random.nextBoolean();
            int size = SIZES[random.nextInt(3)];
            boolean down = random.nextBoolean();
            boolean addr32 = random.nextInt(3) == 0;
            boolean rep = random.nextBoolean();
            int count = random.nextInt(4) == 0 ? 0 : random.nextInt(9);
            Case c = h.add(in ? "ins" : "outs", "").usesPorts();
            c.flags((c.rflags & ~DifferentialHarness.DF) | (down ? DifferentialHarness.DF : 0));
            long pointer = c.scratch() + (down ? 0x500 : 0x300) + random.nextInt(16);
            long garbage = addr32 ? harness.value() << 32 : 0;
            c.reg(in ? DifferentialHarness.RDI : DifferentialHarness.RSI, garbage ^ pointer);
            c.reg(RDX, (harness.value() & ~0xffffL) | (in ? 0x510 : 0x80));
            c.reg(RCX, (rep ? (addr32 ? harness.value() << 32 : 0) : harness.value() & ~0xffL) | count);
            c.code((addr32 ? ".byte 0x67; " : "") + (rep ? "rep " : "") + (in ? "ins" : "outs") + suffix(size) + " "
                    + (in ? "(%dx), (%" + (addr32 ? "edi" : "rdi") + ")" : "(%" + (addr32 ? "esi" : "rsi") + "), (%dx)"));
            if (addr32 && rep && count == 0) {
                // KVM emulates these after the I/O exit, zeroing RCX only for an Intel vCPU (VendorDifference).
                c.vendorSpecific(VendorDifference.ADDR32_REP_STRING_ZERO_COUNT,
                        1 << RCX | 1 << (in ? DifferentialHarness.RDI : DifferentialHarness.RSI));
            }
        }
        h.assertAgree();
    }

    // ---- stack: PUSH POP PUSHF POPF CALL RET LEAVE ENTER ----

    /**
     * Clears IF and IOPL in the RFLAGS image PUSHF just stored (see {@link DifferentialHarness#HOST_FLAGS}:
     * under KVM here they show the host's). The AND leaves AF undefined; the image keeps the flags as pushed.
     */
    private static final String HIDE_HOST_FLAGS_Q = "andl $0xffffcdff, (%rsp)";
    private static final String HIDE_HOST_FLAGS_W = "andw $0xcdff, (%rsp)";

    /**
     * A POPF case that loads {@code value} and pushes the flags back into register {@code image} (through the
     * stack slot below the case's initial RSP): if the value sets NT, the host may lose it across a VM exit
     * (see {@link DifferentialHarness}), which the comparison then accepts, in those images and in RFLAGS only.
     */
    private static void setsNt(Case c, long value, int image) {
        if ((value & DifferentialHarness.NT) != 0) {
            c.setsNt(1 << image, c.base() + DifferentialHarness.STACK_TOP - 8);
        }
    }

    @Test
    void stackInstructions(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 2500; i++) {
            Case c = h.add("stack", "");
            int r = random.nextInt(16);
            int q = random.nextInt(16);
            String text = switch (random.nextInt(20)) {
                case 0 -> "push " + reg(r, 8);
                case 1 -> "pushw " + reg(r, 2);
                case 2 -> "pop " + reg(r, 8);
                case 3 -> "popw " + reg(r, 2);
                case 4 -> "pushq $" + imm(4);
                case 5 -> "pushw $" + imm(2);
                case 6 -> "pushq " + c.mem(random.nextInt(64), 1 << RSP, true);
                case 7 -> "pushw " + c.mem(random.nextInt(64), 1 << RSP, true);
                case 8 -> "popq " + c.mem(random.nextInt(64), 1 << RSP, true);
                case 9 -> "popw " + c.mem(random.nextInt(64), 1 << RSP, true);
                case 10 -> "popq " + (random.nextInt(3) * 8) + "(%rsp)"; // address computed after the increment
                case 11 -> "push %rsp\npop " + reg(r, 8);
                case 12 -> {
                    c.undefined(AF);
                    yield "pushfq\n" + HIDE_HOST_FLAGS_Q + "\npop " + reg(r, 8);
                }
                case 13 -> {
                    c.undefined(AF);
                    yield "pushfw\n" + HIDE_HOST_FLAGS_W + "\npopw " + reg(r, 2);
                }
                case 14 -> {
                    // POPF: the arithmetic flags, DF, NT, AC and ID are writable at CPL 3 (IOPL and IF are not,
                    // and TF would trap); AC stays set only to the end of the case.
                    long value = harness.value() & (ARITHMETIC | DifferentialHarness.DF | 1L << 14 | 1L << 18 | 1L << 21
                            | 1L << 16 | 1L << 19 | 1L << 20 | 0x3000 | 0x200);
                    c.reg(r == RSP ? 0 : r, value).undefined(AF);
                    setsNt(c, value, q);
                    yield "push " + reg(r == RSP ? 0 : r, 8) + "\npopfq\npushfq\n" + HIDE_HOST_FLAGS_Q + "\npop " + reg(q, 8);
                }
                case 15 -> {
                    long value = harness.value() & (ARITHMETIC | DifferentialHarness.DF | 1L << 14 | 0x3000 | 0x200);
                    c.reg(r == RSP ? 0 : r, value).undefined(AF);
                    setsNt(c, value, q);
                    yield "pushw " + reg(r == RSP ? 0 : r, 2) + "\npopfw\npushfq\n" + HIDE_HOST_FLAGS_Q + "\npop " + reg(q, 8);
                }
                case 16 -> {
                    // LEAVE: RSP = RBP, then RBP (or BP) popped; RBP points into the case's stack.
                    c.reg(DifferentialHarness.RBP, c.base() + DifferentialHarness.STACK + 0x100 + random.nextInt(0x200));
                    yield random.nextInt(3) == 0 ? "leavew" : "leave";
                }
                case 17 -> {
                    // ENTER size, level: nested levels copy frame pointers from below RBP.
                    c.reg(DifferentialHarness.RBP, c.base() + DifferentialHarness.STACK + 0x200 + random.nextInt(0x100));
                    int level = random.nextInt(4) == 0 ? random.nextInt(32) : random.nextInt(4);
                    int frame = random.nextInt(0x60);
                    if (level > 8) {
                        level = level % 9; // at most 9 pushes: the stack area holds 1 KiB
                    }
                    yield (random.nextInt(3) == 0 ? "enterw" : "enter") + " $" + frame + ", $" + level;
                }
                case 18 -> switch (random.nextInt(4)) {
                    case 0 -> "call 1f\njmp 2f\n1: mov %rsp, %r8\nret\n2:";
                    case 1 -> "lea 1f(%rip), %r9\ncall *%r9\njmp 2f\n1: mov (%rsp), %r8\nret $" + random.nextInt(64) + "\n2:";
                    case 2 -> {
                        String slot = c.mem(random.nextInt(64), 1 << RSP | 1 << 9, true);
                        yield "lea 1f(%rip), %r9\nmov %r9, " + slot + "\ncall *" + slot + "\njmp 2f\n1: ret\n2:";
                    }
                    default -> "lea 1f(%rip), %r9\njmp *%r9\nmov $1, %r8\n1:";
                };
                default -> "sub $" + random.nextInt(64) + ", %rsp\npush " + reg(r, 8) + "\npopw " + reg(q, 2);
            };
            c.code(text);
        }
        h.assertAgree();
    }

    /**
     * NT on the interpreter alone, with known values, since the differential comparison cannot rely on the
     * host's NT after a VM exit (see {@link DifferentialHarness}): POPF/POPFW set and clear it, PUSHF reads it
     * back, and it stays set across the instructions that make this host's KVM lose it (CPUID, OUT, the first
     * touch of another page) to the end of the case.
     */
    @Test
    void ntStaysSetOnTheInterpreter() throws Exception {
        DifferentialHarness h = new DifferentialHarness("ntKnownValues", 1);
        String read = "\npushfq\npop %r8";
        Case setQ = h.add("popfq", "push $0x4881\npopfq" + read);
        Case setW = h.add("popfw", "pushw $0x4002\npopfw" + read);
        Case cleared = h.add("popfq clears", "push $0x4002\npopfq\npush $0x0002\npopfq" + read);
        Case cpuid = h.add("cpuid", "push $0x4002\npopfq\nxor %eax, %eax\ncpuid" + read);
        Case out = h.add("out", "push $0x4002\npopfq\nout %al, $0x80" + read);
        Case page = h.add("new page", "");
        page.code("push $0x4002\npopfq\nmov 0x" + Long.toHexString(page.base() + 3 * DifferentialHarness.STRIDE) + ", %rax" + read);
        h.add("next page", "nop");
        h.add("the page after", "nop");
        h.add("the page touched", "nop");
        List<DifferentialHarness.Outcome> outcomes = h.interpreterOutcomes();
        long nt = DifferentialHarness.NT;
        for (Case c : new Case[] {setQ, setW, cpuid, out, page}) {
            DifferentialHarness.Outcome o = outcomes.get(c.index);
            org.junit.jupiter.api.Assertions.assertEquals(nt, o.regs()[8] & nt, c.name + ": PUSHF after the instructions");
            org.junit.jupiter.api.Assertions.assertEquals(nt, o.rflags() & nt, c.name + ": RFLAGS at the end of the case");
        }
        org.junit.jupiter.api.Assertions.assertEquals(0x4881L, outcomes.get(setQ.index).regs()[8] & (ARITHMETIC | DifferentialHarness.DF | nt),
                "the flags POPFQ loaded");
        DifferentialHarness.Outcome clear = outcomes.get(cleared.index);
        org.junit.jupiter.api.Assertions.assertEquals(0, clear.regs()[8] & nt, "POPFQ of an image without NT clears it");
        org.junit.jupiter.api.Assertions.assertEquals(0, clear.rflags() & nt);
        org.junit.jupiter.api.Assertions.assertEquals(0, outcomes.get(h.size() - 1).rflags() & nt, "the next case's seed RFLAGS has no NT");
    }

    /**
     * The comparison's NT rule, without KVM: in a case marked {@link Case#setsNt}, a host NT of 0 where the
     * interpreter has 1 (RFLAGS, the named register and stack image) is accepted; the other way round, an
     * unmarked case, or any other bit still disagrees.
     */
    @Test
    void theNtRuleAcceptsOnlyTheHostLosingNt() {
        DifferentialHarness h = new DifferentialHarness("ntRule", 1);
        long nt = DifferentialHarness.NT;
        Case marked = h.add("marked", "push %rax; popfq; pushfq; pop %r9");
        marked.setsNt(1 << 9, marked.base() + DifferentialHarness.STACK_TOP - 8);
        Case unmarked = h.add("unmarked", "push %rax; popfq; pushfq; pop %r9");
        for (Case c : new Case[] {marked, unmarked}) {
            DifferentialHarness.Outcome interp = outcome(c, 0x4202, 0x4202, true);
            DifferentialHarness.Outcome lost = outcome(c, 0x0202, 0x0202, false);
            boolean accepted = DifferentialHarness.compare(c, lost, interp) == null;
            org.junit.jupiter.api.Assertions.assertEquals(c == marked, accepted, c.name + ": host lost NT");
            org.junit.jupiter.api.Assertions.assertEquals(c == marked, DifferentialHarness.hostLostNt(c, lost, interp));
            // The interpreter without NT where the host has it: never accepted.
            org.junit.jupiter.api.Assertions.assertNotNull(DifferentialHarness.compare(c, interp, lost), c.name + ": interpreter lost NT");
            // Another bit differing besides NT: still a disagreement.
            org.junit.jupiter.api.Assertions.assertNotNull(DifferentialHarness.compare(c, outcome(c, 0x0203, 0x0202, false), interp));
            org.junit.jupiter.api.Assertions.assertNotNull(DifferentialHarness.compare(c, outcome(c, 0x0202, 0x0203, false), interp));
        }
        // NT lost in RFLAGS only (the exit came after the case's PUSHF): accepted too.
        org.junit.jupiter.api.Assertions.assertNull(DifferentialHarness.compare(marked, outcome(marked, 0x0202, 0x4202, true),
                outcome(marked, 0x4202, 0x4202, true)));
        // NT in a register the case does not name as an image is compared.
        DifferentialHarness.Outcome other = outcome(marked, 0x4202, 0x4202, true);
        other.regs()[10] ^= nt;
        org.junit.jupiter.api.Assertions.assertNotNull(DifferentialHarness.compare(marked, other, outcome(marked, 0x4202, 0x4202, true)));
    }

    /** An outcome of {@code c} with RFLAGS {@code rflags}, R9 and the stack image {@code image} (NT in it or not). */
    private static DifferentialHarness.Outcome outcome(Case c, long rflags, long image, boolean imageNt) {
        long[] regs = c.regs.clone();
        regs[9] = image;
        byte[] memory = c.memory.clone();
        int at = DifferentialHarness.STACK_TOP - 8 - DifferentialHarness.MEMORY;
        for (int i = 0; i < 8; i++) {
            memory[at + i] = (byte) ((imageNt ? image | DifferentialHarness.NT : image & ~DifferentialHarness.NT) >>> (8 * i));
        }
        return new DifferentialHarness.Outcome(regs, rflags, memory, -1, 0, 0, 0, new byte[0]);
    }

    // ---- flag instructions, XLAT ----

    @Test
    void flagInstructionsAndXlat(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] ops = {"lahf", "sahf", "clc", "stc", "cmc", "cld", "std"};
        for (int i = 0; i < 700; i++) {
            String op = ops[random.nextInt(ops.length)];
            // LAHF after an instruction that left flags lazily, SAHF then a reader of every flag it set.
            String before = random.nextBoolean() ? "add %rbx, %rdx\n" : "";
            h.add(op, before + op + "\nlahf\npushfq\n" + HIDE_HOST_FLAGS_Q + "\npop %r8").undefined(AF);
        }
        for (int i = 0; i < 400; i++) {
            Case c = h.add("xlat", "");
            long table = c.scratch() + random.nextInt(0x700);
            boolean addr32 = random.nextInt(3) == 0;
            c.reg(DifferentialHarness.RBX, (addr32 ? harness.value() << 32 : 0) | table);
            c.code(addr32 ? "addr32 xlatb" : "xlatb");
        }
        h.assertAgree();
    }

    // ---- CMPXCHG, XADD, CMPXCHG8B/16B, LOCK ----

    @Test
    void atomicInstructions(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 1500; i++) {
            int size = SIZES[random.nextInt(4)];
            boolean memory = random.nextBoolean();
            Case c = h.add("atomic", "");
            int src = pick(16, 1 << RAX);
            String dst;
            int offset = random.nextInt(64);
            if (memory) {
                dst = c.mem(offset, 1 << src | 1 << RAX, true);
            } else {
                int d = pick(16, 0);
                dst = reg(d, size);
                if (random.nextBoolean()) {
                    c.reg(RAX, c.regs[d]); // equal: CMPXCHG stores
                }
            }
            if (memory && random.nextBoolean()) {
                c.scratch(offset, c.regs[RAX], size);
            }
            String lock = memory && random.nextBoolean() ? "lock " : "";
            String op = random.nextBoolean() ? "cmpxchg" : "xadd";
            c.code(lock + op + suffix(size) + " " + reg(src, size) + ", " + dst);
            // CMPXCHG sets the flags as CMP, XADD as ADD: all six defined.
        }
        for (int i = 0; i < 400; i++) {
            boolean wide = random.nextBoolean();
            int size = wide ? 16 : 8;
            Case c = h.add(wide ? "cmpxchg16b" : "cmpxchg8b", "");
            int offset = size * random.nextInt(8) + (random.nextInt(8) == 0 ? 8 : 0); // sometimes misaligned: #GP for 16B
            byte[] old = c.bytes(c.scratch() + offset, size);
            long low = 0;
            long highPart = 0;
            int half = size / 2;
            for (int j = half - 1; j >= 0; j--) {
                low = low << 8 | (old[j] & 0xff);
                highPart = highPart << 8 | (old[half + j] & 0xff);
            }
            if (random.nextBoolean()) {
                c.reg(RAX, half == 8 ? low : (c.regs[RAX] & ~0xffff_ffffL) | low);
                c.reg(RDX, half == 8 ? highPart : (c.regs[RDX] & ~0xffff_ffffL) | highPart);
            }
            String operand = c.mem(offset, 1 << RAX | 1 << RDX | 1 << RCX | 1 << DifferentialHarness.RBX, true);
            c.code((random.nextBoolean() ? "lock " : "") + (wide ? "cmpxchg16b " : "cmpxchg8b ") + operand);
            // SDM: CMPXCHG8B/16B set ZF and leave the other flags alone.
        }
        h.assertAgree();
    }

    /**
     * Encodings that must raise #UD: LOCK on a register destination or on an instruction that cannot be
     * locked, and one-byte opcodes that 64-bit mode removed (the ALU alias 82, the BCD and segment ones).
     */
    @Test
    void invalidEncodingsRaiseUd(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] invalid = {
                ".byte 0xf0, 0x01, 0xc3",             // lock add %eax, %ebx
                ".byte 0xf0, 0x48, 0x0f, 0xc1, 0xc3", // lock xadd %rax, %rbx
                ".byte 0xf0, 0x87, 0xc3",             // lock xchg %eax, %ebx
                ".byte 0xf0, 0x39, 0x03",             // lock cmp %eax, (%rbx)
                ".byte 0xf0, 0x85, 0x03",             // lock test %eax, (%rbx)
                ".byte 0xf0, 0x89, 0x03",             // lock mov %eax, (%rbx)
                ".byte 0xf0, 0x0f, 0xa3, 0x03",       // lock bt %eax, (%rbx)
                ".byte 0xf0, 0xf7, 0xd3",             // lock not %ebx
                ".byte 0xf0, 0x90",                   // lock nop
                ".byte 0x82, 0xc3, 0x01",             // 82 /0: not in 64-bit mode
                ".byte 0x82, 0x03, 0x01",
                ".byte 0x27", ".byte 0x2f", ".byte 0x37", ".byte 0x3f", // DAA DAS AAA AAS
                ".byte 0x06", ".byte 0x07", ".byte 0x0e", ".byte 0x16", ".byte 0x17", ".byte 0x1e", ".byte 0x1f",
                ".byte 0x60", ".byte 0x61", ".byte 0xce", ".byte 0xd4, 0x0a", ".byte 0xd5, 0x0a", ".byte 0xd6",
                ".byte 0x0f, 0x0b",                   // UD2
        };
        for (String bytes : invalid) {
            Case c = h.add("invalid", bytes);
            c.reg(DifferentialHarness.RBX, c.scratch());
        }
        // LOCK where it is allowed: memory destinations of the lockable instructions.
        String[] valid = {"lock addl %eax, (%rbx)", "lock orq $5, (%rbx)", "lock incw (%rbx)", "lock negb (%rbx)",
                "lock notl (%rbx)", "lock btsq %rax, (%rbx)", "lock btcl $3, (%rbx)", "lock xchg %eax, (%rbx)",
                "lock sbbl %eax, (%rbx)", "lock decq (%rbx)"};
        for (String text : valid) {
            Case c = h.add("lock", text);
            c.reg(DifferentialHarness.RBX, c.scratch() + 8).reg(RAX, random.nextInt(64));
        }
        h.assertAgree();
    }

    // ---- random instruction sequences: lazy flags handed from one instruction to the next ----

    /** Flags each condition reads. */
    private static long conditionReads(int cc) {
        return switch (cc >> 1) {
            case 0 -> OF;
            case 1 -> CF;
            case 2 -> ZF;
            case 3 -> CF | ZF;
            case 4 -> SF;
            case 5 -> PF;
            case 6 -> SF | OF;
            default -> ZF | SF | OF;
        };
    }

    /**
     * Random sequences of 2-10 flag-producing and flag-consuming instructions over registers and memory
     * (RBP is the memory base and is never written). The generator tracks which flags are architecturally
     * defined after each instruction and only emits a consumer (ADC, SBB, RCL, RCR, CMC, SETcc, CMOVcc, Jcc,
     * LAHF) when the flags it reads are defined; the flags still undefined at the end are masked.
     */
    @Test
    void randomInstructionSequences(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 2500; i++) {
            Case c = h.add("sequence", "");
            c.reg(DifferentialHarness.RBP, c.scratch() + 0x400);
            long undefined = 0;
            StringBuilder text = new StringBuilder();
            int length = 2 + random.nextInt(9);
            int labels = 0;
            for (int k = 0; k < length; k++) {
                int size = SIZES[random.nextInt(4)];
                String s = suffix(size);
                int a = pick(16, 1 << RSP | 1 << DifferentialHarness.RBP);
                int b = pick(16, 1 << RSP | 1 << DifferentialHarness.RBP);
                String ra = random.nextInt(5) == 0 ? (random.nextInt(64) - 32) + "(%rbp)" : reg(a, size);
                String rb = reg(b, size);
                String line;
                long writes;
                long makesUndefined = 0;
                long reads = 0;
                switch (random.nextInt(16)) {
                    case 0, 1 -> {
                        String op = new String[] {"add", "sub", "cmp", "adc", "sbb"}[random.nextInt(5)];
                        reads = op.equals("adc") || op.equals("sbb") ? CF : 0;
                        line = random.nextBoolean() ? op + s + " " + rb + ", " + ra : op + s + " $" + imm(size) + ", " + ra;
                        writes = ARITHMETIC;
                    }
                    case 2 -> {
                        String op = new String[] {"and", "or", "xor", "test"}[random.nextInt(4)];
                        line = op + s + " " + rb + ", " + ra;
                        writes = ARITHMETIC & ~AF;
                        makesUndefined = AF;
                    }
                    case 3 -> {
                        String op = new String[] {"inc", "dec", "neg", "not"}[random.nextInt(4)];
                        line = op + s + " " + ra;
                        writes = op.equals("not") ? 0 : op.equals("neg") ? ARITHMETIC : ARITHMETIC & ~CF;
                    }
                    case 4, 5 -> {
                        String op = SHIFTS[random.nextInt(SHIFTS.length)];
                        int count = random.nextInt(3) == 0 ? 1 : shiftCount();
                        int masked = count & (size == 8 ? 63 : 31);
                        line = op + s + " $" + count + ", " + ra;
                        long u = shiftUndefined(op, size, count);
                        boolean rotate = op.startsWith("r");
                        writes = masked == 0 ? 0 : (rotate ? CF | OF : ARITHMETIC) & ~u;
                        makesUndefined = u;
                        reads = masked != 0 && op.startsWith("rc") ? CF : 0;
                    }
                    case 6 -> {
                        line = (random.nextBoolean() ? "imul" + (size == 1 ? "w" : s) + " " + reg(b, Math.max(2, size)) + ", " + reg(a, Math.max(2, size))
                                : (random.nextBoolean() ? "mulb " : "imulb ") + reg(b, 1));
                        writes = CF | OF;
                        makesUndefined = MUL_UNDEFINED;
                    }
                    case 7 -> {
                        int bits = Math.max(2, size) * 8;
                        line = new String[] {"bt", "bts", "btr", "btc"}[random.nextInt(4)] + suffix(Math.max(2, size))
                                + " $" + random.nextInt(bits) + ", " + reg(a, Math.max(2, size));
                        writes = CF;
                        makesUndefined = BT_UNDEFINED;
                    }
                    case 8 -> {
                        String op = new String[] {"clc", "stc", "cmc", "sahf", "popcnt"}[random.nextInt(5)];
                        reads = op.equals("cmc") ? CF : 0;
                        writes = switch (op) {
                            case "sahf" -> ARITHMETIC & ~OF;
                            case "popcnt" -> ARITHMETIC;
                            default -> CF;
                        };
                        line = op.equals("popcnt") ? "popcntq " + reg(b, 8) + ", " + reg(a, 8) : op;
                    }
                    case 9 -> {
                        line = "lahf";
                        reads = ARITHMETIC & ~OF;
                        writes = 0;
                    }
                    case 10, 11 -> {
                        int cc = random.nextInt(16);
                        reads = conditionReads(cc);
                        writes = 0;
                        line = switch (random.nextInt(3)) {
                            case 0 -> "set" + CONDITIONS[cc] + " " + reg(a, 1);
                            case 1 -> "cmov" + CONDITIONS[cc] + suffix(Math.max(2, size)) + " " + reg(b, Math.max(2, size)) + ", " + reg(a, Math.max(2, size));
                            default -> {
                                labels++;
                                yield "j" + CONDITIONS[cc] + " 7" + labels + "f\nnot" + s + " " + ra + "\n7" + labels + ":";
                            }
                        };
                    }
                    case 12 -> {
                        line = "lea 1(%" + R64[a] + ",%" + R64[b] + ",2), " + reg(a, 8); // flags untouched
                        writes = 0;
                    }
                    case 13 -> {
                        line = "movabs $" + harness.value() + ", " + reg(a, 8);
                        writes = 0;
                    }
                    default -> {
                        line = "xadd" + s + " " + rb + ", " + ra;
                        writes = ARITHMETIC;
                    }
                }
                if ((reads & undefined) != 0) {
                    continue; // it would read a flag the SDM leaves undefined here
                }
                text.append(line).append('\n');
                undefined = (undefined & ~writes) | makesUndefined;
            }
            c.code(text.toString().strip());
            c.undefined(undefined);
        }
        h.assertAgree();
    }

    // ---- MOV forms, prefixes, exceptions, self-modifying code ----

    @Test
    void movesOfEveryForm(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 1200; i++) {
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0;
            Case c = h.add("mov", "");
            int a = pick(legacy ? 8 : 16, 0);
            int offset = random.nextInt(64);
            String text = switch (random.nextInt(7)) {
                case 0 -> "mov" + suffix(size) + " " + reg(pick(legacy ? 8 : 16, 0), size, legacy) + ", " + reg(a, size, legacy);
                case 1 -> "mov" + suffix(size) + " " + reg(a, size, legacy) + ", " + c.mem(offset, 1 << a, !legacy);
                case 2 -> "mov" + suffix(size) + " " + c.mem(offset, 1 << a, !legacy) + ", " + reg(a, size, legacy);
                case 3 -> "mov" + suffix(size) + " $" + imm(size) + ", " + (random.nextBoolean() ? reg(a, size, legacy) : c.mem(offset, 0, true));
                case 4 -> size == 8 && random.nextBoolean() ? "movabs $" + harness.value() + ", " + reg(a, 8)
                        : "movl $" + imm(4) + ", " + reg(a, 4); // B8+r: zero-extends
                case 5 -> "movabs " + (c.scratch() + offset) + ", " + reg(RAX, size); // A0/A1: 64-bit moffs
                default -> "movabs " + reg(RAX, size) + ", " + (c.scratch() + offset); // A2/A3
            };
            c.code(text);
        }
        // 0x67 with moffs: a 32-bit address.
        for (int i = 0; i < 100; i++) {
            Case c = h.add("mov-moffs32", "");
            long address = c.scratch() + random.nextInt(64);
            int size = SIZES[random.nextInt(4)];
            int opcode = (size == 1 ? 0xa0 : 0xa1) + (random.nextBoolean() ? 2 : 0);
            String prefix = size == 2 ? "0x66, " : size == 8 ? "0x48, " : "";
            c.code(String.format(".byte 0x67, %s0x%x; .long 0x%x", prefix, opcode, address));
        }
        h.assertAgree();
    }

    /**
     * Prefix rules: a REX not immediately before the opcode is ignored, only the last REX counts, REX.W
     * beats 66, segment overrides other than FS/GS and 67 on register-only instructions change nothing,
     * 66 on near branches is ignored (Intel; AMD differs, so those cases are skipped on an AMD host), and an
     * instruction longer than 15 bytes raises #GP(0).
     */
    @Test
    void prefixCombinations(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] encodings = {
                "0x48, 0x66, 0x01, 0xd8", "0x41, 0x48, 0x01, 0xd8", "0x48, 0x41, 0x01, 0xd8", "0x66, 0x48, 0x01, 0xd8",
                "0x66, 0x66, 0x01, 0xd8", "0xf3, 0x01, 0xd8", "0xf2, 0x01, 0xd8", "0x2e, 0x01, 0xd8", "0x3e, 0x01, 0xd8",
                "0x26, 0x01, 0xd8", "0x36, 0x01, 0xd8", "0x64, 0x01, 0xd8", "0x65, 0x01, 0xd8", "0x67, 0x01, 0xd8",
                "0x40, 0x88, 0xe0", "0x88, 0xe0", "0x40, 0x66, 0x88, 0xe0", "0x48, 0x40, 0x88, 0xe0", "0x4f, 0x40, 0x88, 0xe0",
                "0x41, 0x66, 0x90", "0x48, 0x90", "0xf3, 0x90", "0x66, 0x90", "0x0f, 0x1f, 0x44, 0x00, 0x00",
                "0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00", "0x66, 0x48, 0x50", "0x66, 0x50", "0x48, 0x50",
                "0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00",
                "0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x01, 0xd8",       // 15 bytes
                "0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x01, 0xd8", // 16: #GP
                "0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0x81, 0xc0, 0x01, 0x02, 0x03, 0x04",
        };
        for (int round = 0; round < 4; round++) {
            for (String bytes : encodings) {
                h.add("prefixes", ".byte " + bytes);
            }
        }
        // Intel ignores 0x66 on near branches; AMD makes them 16-bit (VendorDifference): skipped on AMD hosts.
        for (int i = 0; i < 20; i++) {
            h.add("call-66", ".byte 0x66\ncall 1f\njmp 2f\n1: mov (%rsp), %r8\nret\n2:")
                    .vendorSpecific(VendorDifference.OPERAND_SIZE_PREFIX_ON_NEAR_BRANCH);
            h.add("jmp-66", "movl $0, %r8d\n.byte 0x66\njmp 1f\nmovl $1, %r8d\n1:")
                    .vendorSpecific(VendorDifference.OPERAND_SIZE_PREFIX_ON_NEAR_BRANCH);
            h.add("jcc-66", "movl $0, %r8d\n.byte 0x66\n{disp32} j" + CONDITIONS[random.nextInt(16)] + " 1f\nmovl $1, %r8d\n1:")
                    .vendorSpecific(VendorDifference.OPERAND_SIZE_PREFIX_ON_NEAR_BRANCH);
        }
        h.assertAgree();
    }

    /**
     * Exceptions raised by integer instructions in ring 3, compared by vector, RIP, error code and (for #PF)
     * CR2, with the registers as of the fault: non-canonical data (#GP) and stack (#SS) addresses, not-present
     * pages (#PF; read-modify-write instructions report a write), branches to non-canonical targets (#GP at
     * the branch, nothing pushed), INT1, and privileged instructions (#GP).
     *
     * <p>Not here, because neither oracle is one for them: INT3 and INT n through a DPL-0 gate (this host's KVM
     * delivers #BP for INT3 and #UD for INT 0x80 instead of #GP; a Linux process has DPL-3 gates for INT3 and
     * INT 0x80), and faults on upper-half addresses (KVM here reports a reserved-bit #PF for them, Linux any
     * kernel address as present). The host process's other differences are {@link DifferentialHarness.HostRule}s.
     */
    @Test
    void exceptionsFromIntegerInstructions(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        long nonCanonical = 0x8000_0000_0000L;
        String[] cases = {
                "movabs $0x800000000000, %rbx\nmov (%rbx), %rax",
                "movabs $0xffff7fffffffffff, %rbx\nmovl $1, (%rbx)",
                "movabs $0x800000000010, %rsp\npush %rax",
                "movabs $0x800000000000, %rsp\npop %rax",
                "movabs $0x800000000000, %rsp\nret",
                "movabs $0x800000000008, %rsp\ncall 1f\n1:",
                "movabs $0x800000000000, %rsp\nmov 8(%rsp), %rax",
                "movabs $0x800000000000, %rbx\nmov 8(%rsp,%rbx), %rax",
                "movabs $0x800000000000, %rbp\nmov 16(%rbp), %rax",
                "movabs $0x7ffffffffffd, %rbx\nmov (%rbx), %rax",
                "movabs $0x100000000, %rbx\nmov 8(%rbx), %rax",
                "movabs $0x123456789a0, %rbx\nmovl $5, (%rbx)",
                "movabs $0x100000000, %rbx\nlock incl 4(%rbx)",
                "movabs $0x800000000000, %rax\njmp *%rax",
                "movabs $0x800000000000, %rax\ncall *%rax",
                "movabs $0x800000000000, %rax\npush %rax\nret",
                "movabs $0x100000000, %rax\njmp *%rax",
                "movabs $0x100000000, %rax\ncall *%rax",
                ".byte 0xf1", "mov $5, %eax\n.byte 0xf1\nmov $6, %eax",
                "hlt", "mov %cr0, %rax", "mov %rax, %cr3", "rdmsr", "wrmsr", "invlpg (%rsp)", "wbinvd", "clts",
                "lgdt (%rsp)", "swapgs", "sysretq", "mov %dr7, %rax",
        };
        for (String text : cases) {
            Case c = h.add("fault", text);
            c.reg(RSP, c.base() + DifferentialHarness.STACK_TOP - 64);
            if (text.contains("call *")) {
                // Below RSP, so no architectural state: the host CPU stores the return address there before
                // its #GP for the target, the interpreter (as the SDM's pseudocode) checks the target first.
                c.ignoreMemory(c.regs[RSP] - 8, 8);
            }
        }
        for (int i = 0; i < 100; i++) {
            Case c = h.add("fault-random", "");
            long address = switch (random.nextInt(3)) {
                case 0 -> nonCanonical + (random.nextLong() & 0x7fff_ffff_ffffL & ~0xfffL) * (random.nextBoolean() ? 1 : 2);
                case 1 -> 0x1_0000_0000L + (random.nextLong() & 0x7fff_ffffL);
                default -> 0x7fff_ffff_f000L + random.nextInt(0x1000);
            };
            int size = SIZES[random.nextInt(4)];
            c.reg(DifferentialHarness.RBX, address);
            c.code(new String[] {"mov" + suffix(size) + " (%rbx), " + reg(RAX, size),
                    "add" + suffix(size) + " " + reg(RAX, size) + ", (%rbx)",
                    "rep stosb\n" /* RCX decides */, "xchg" + suffix(size) + " " + reg(RAX, size) + ", (%rbx)"}[random.nextInt(4)]
                    .replace("rep stosb", "mov %rbx, %rdi\nmov $3, %ecx\nrep stosb"));
        }
        h.assertAgree();
    }

    /** Code rewritten by the guest runs as rewritten, even when the old bytes ran (and were decoded) before. */
    @Test
    void selfModifyingCode(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        for (int i = 0; i < 50; i++) {
            int value = random.nextInt(100);
            // ADD $1, %r8 (49 83 C0 01) has its immediate rewritten after the first of three passes.
            h.add("smc", "xor %r8d, %r8d\nmov $3, %ecx\n2: add $1, %r8\nlea 2b+3(%rip), %r9\nmovb $" + value
                    + ", (%r9)\nloop 2b");
            h.add("smc-next", "lea 1f(%rip), %r9\nmovb $0x90, (%r9)\n1: int3\nmov $7, %r10d");
        }
        h.assertAgree();
    }

    /**
     * The forms compiled blocks run natively since session 10 (docs/jit.md), in the shapes where the JIT's flag
     * liveness and fault paths matter: each alone (flags live at the block's end), followed by an instruction that
     * overwrites every flag (flags dead: the JIT skips their record), or by one that reads them. Shifts and rotates
     * by CL with counts 0, 1, the width and above; INC/DEC with CF set and clear, and CF read after them; ALU forms
     * with byte, word and memory operands; CMOVcc, SETcc, ADC and SBB on every condition after each kind of flag
     * producer; byte and word shifts by a constant; MOVZX/MOVSX/MOVSXD from memory; NOT; word stores; PUSH/POP across page
     * boundaries and onto a not-present page (RSP unchanged by the faulting one); CALL and RET. The harness runs
     * every case on the host, the interpreter, and the JIT compiling every block at its first execution.
     */
    @Test
    void formsTheJitEmitsNatively(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        int[] counts = {0, 1, 2, 7, 31, 32, 33, 63, 64, 65, 255};
        for (int i = 0; i < 600; i++) {
            String op = SHIFTS[random.nextInt(SHIFTS.length)];
            int size = random.nextBoolean() ? 8 : 4;
            int count = counts[random.nextInt(counts.length)];
            int r = pick(16, 1 << RCX | 1 << RSP);
            int t = pick(16, 1 << RCX | 1 << RSP | 1 << r);
            Case c = h.add(op + "-cl", "");
            c.reg(RCX, (harness.value() & ~0xffL) | count);
            String shift = op + suffix(size) + " %cl, " + reg(r, size);
            long undefined = shiftUndefined(op, size, count);
            switch (random.nextInt(3)) {
                case 0 -> c.code(shift).undefined(undefined);
                case 1 -> c.code(shift + "\nadd " + reg(t, 8) + ", " + reg(t, 8));
                default -> c.code(shift + "\n" + ((undefined & CF) == 0 ? "setc " : "sete ") + reg(t, 1)).undefined(undefined);
            }
        }
        long[] edges = {0, -1, 0x7fff_ffffL, 0x8000_0000L, 0xffff_ffffL, Long.MAX_VALUE, Long.MIN_VALUE};
        for (int i = 0; i < 300; i++) {
            String op = random.nextBoolean() ? "inc" : "dec";
            int size = random.nextBoolean() ? 8 : 4;
            int r = pick(16, 1 << RSP);
            int t = pick(16, 1 << RSP | 1 << r);
            Case c = h.add(op, "");
            if (random.nextBoolean()) {
                c.reg(r, edges[random.nextInt(edges.length)]);
            }
            String text = (random.nextBoolean() ? "stc" : "clc") + "\n" + op + suffix(size) + " " + reg(r, size);
            c.code(switch (random.nextInt(3)) {
                case 0 -> text;
                case 1 -> text + "\nadc $0, " + reg(t, 8); // CF, kept, read by the next instruction
                default -> text + "\nadd " + reg(t, 8) + ", " + reg(t, 8);
            });
        }
        String[] alu = {"add", "or", "and", "sub", "xor", "cmp", "test"};
        for (int i = 0; i < 900; i++) {
            String op = alu[random.nextInt(alu.length)];
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0; // AH..BH: no REX
            int limit = legacy ? 8 : 16;
            int r = pick(limit, 1 << RSP);
            int q = pick(limit, 1 << RSP | 1 << r);
            int t = pick(16, 1 << RSP | 1 << r | 1 << q);
            Case c = h.add(op + "-form", "");
            String mem = c.mem(random.nextInt(56), 1 << r | 1 << q | 1 << t | 1 << RSP, !legacy);
            String s = op + suffix(size) + " ";
            String text = switch (random.nextInt(op.equals("test") ? 4 : 5)) {
                case 0 -> s + "$" + imm(size) + ", " + mem;
                case 1 -> s + reg(r, size, legacy) + ", " + mem;
                case 2 -> s + "$" + imm(size) + ", " + reg(r, size, legacy);
                case 3 -> s + reg(q, size, legacy) + ", " + reg(r, size, legacy);
                default -> s + mem + ", " + reg(r, size, legacy);
            };
            if (random.nextBoolean()) {
                c.code(text).undefined(aluUndefined(op));
            } else {
                c.code(text + "\nadd " + reg(t, 8) + ", " + reg(t, 8));
            }
        }
        String[] conditions = {"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"};
        String[] producers = {"cmp", "sub", "add", "test", "and", "adc", "sbb"};
        for (int i = 0; i < 900; i++) {
            String cc = conditions[random.nextInt(conditions.length)];
            String producer = producers[random.nextInt(producers.length)];
            int size = random.nextBoolean() ? 8 : 4;
            int r = pick(16, 1 << RSP);
            int q = pick(16, 1 << RSP | 1 << r);
            int t = pick(16, 1 << RSP | 1 << r | 1 << q);
            Case c = h.add("cc-" + cc, "");
            boolean legacy = random.nextInt(4) == 0; // SETcc into AH..BH
            int b = legacy ? pick(8, 1 << RSP | 1 << r | 1 << q) : t;
            String mem = c.mem(random.nextInt(56), 1 << r | 1 << q | 1 << t | 1 << b | 1 << RSP, !legacy);
            String flags = (random.nextBoolean() ? "stc\n" : "clc\n") + producer + suffix(size) + " " + reg(q, size) + ", " + reg(r, size);
            String use = switch (random.nextInt(6)) {
                case 0 -> "cmov" + cc + " " + reg(q, size) + ", " + reg(t, size);
                case 1 -> "cmov" + cc + " " + mem + ", " + reg(t, size);
                case 2 -> "set" + cc + " " + reg(b, 1, legacy);
                case 3 -> "set" + cc + " " + mem;
                case 4 -> (random.nextBoolean() ? "adc" : "sbb") + suffix(size) + " " + reg(q, size) + ", " + reg(t, size);
                default -> (random.nextBoolean() ? "adc" : "sbb") + (random.nextBoolean() ? suffix(size) + " $" + imm(size) + ", " + reg(t, size)
                        : suffix(size) + " " + mem + ", " + reg(t, size));
            };
            c.code(flags + "\n" + use).undefined(aluUndefined(producer));
        }
        for (int i = 0; i < 300; i++) {
            String op = SHIFTS[random.nextInt(SHIFTS.length)];
            int size = random.nextBoolean() ? 2 : 1;
            int count = random.nextInt(4) == 0 ? 1 : shiftCount();
            int r = pick(16, 1 << RSP);
            int t = pick(16, 1 << RSP | 1 << r);
            Case c = h.add(op + "-narrow", "");
            String shift = op + suffix(size) + " $" + count + ", " + reg(r, size);
            if (random.nextBoolean()) {
                c.code(shift).undefined(shiftUndefined(op, size, count));
            } else {
                c.code(shift + "\nadd " + reg(t, 8) + ", " + reg(t, 8));
            }
        }
        String[] extensions = {"movzbl", "movzwl", "movzbq", "movzwq", "movsbl", "movswl", "movsbq", "movswq", "movslq"};
        for (int i = 0; i < 300; i++) {
            String op = extensions[random.nextInt(extensions.length)];
            int r = pick(16, 1 << RSP);
            Case c = h.add(op, "");
            String mem = c.mem(random.nextInt(56), 1 << r | 1 << RSP, true);
            c.code(switch (random.nextInt(4)) {
                case 0 -> op + " " + mem + ", " + reg(r, op.endsWith("q") ? 8 : 4);
                case 1 -> "not" + (op.endsWith("q") ? "q " : "l ") + reg(r, op.endsWith("q") ? 8 : 4);
                case 2 -> "movw " + reg(r, 2) + ", " + mem;
                default -> "movb " + reg(r, 1) + ", " + mem;
            });
        }
        // Read-modify-write forms (session 10, round 4), NEG and MOV [mem], imm: in the scratch page, across a page boundary of the
        // bulk memory, and on the not-present page at 4 GiB (the read faults, reported as a write: error code bit 1)
        String[] rmw = {"add", "or", "adc", "sbb", "and", "sub", "xor", "neg", "mov"};
        for (int i = 0; i < 900; i++) {
            String op = rmw[random.nextInt(rmw.length)];
            int size = SIZES[random.nextInt(4)];
            boolean legacy = size == 1 && random.nextInt(3) == 0; // AH..BH: no REX
            int limit = legacy ? 8 : 16;
            int r = pick(limit, 1 << RSP | 1 << DifferentialHarness.RBX);
            int t = pick(16, 1 << RSP | 1 << r | 1 << DifferentialHarness.RBX);
            Case c = h.add(op + "-rmw", "");
            String mem = switch (random.nextInt(4)) {
                case 0 -> {
                    c.reg(DifferentialHarness.RBX, DifferentialHarness.BULK + 0x1000L * (1 + random.nextInt(14))
                            - 1 - random.nextInt(size));
                    yield "(%rbx)";
                }
                case 1 -> {
                    c.reg(DifferentialHarness.RBX, 0x1_0000_0000L + random.nextInt(0x2000));
                    yield "(%rbx)";
                }
                default -> c.mem(random.nextInt(56), 1 << r | 1 << t | 1 << RSP | 1 << DifferentialHarness.RBX, !legacy);
            };
            String s = op + suffix(size) + " ";
            String text = op.equals("neg") ? (random.nextBoolean() ? s + mem : s + reg(r, size, legacy))
                    : random.nextBoolean() ? s + "$" + imm(size) + ", " + mem : s + reg(r, size, legacy) + ", " + mem;
            text = (random.nextBoolean() ? "stc\n" : "clc\n") + text;
            c.code(switch (random.nextInt(3)) {
                case 0 -> text;
                case 1 -> text + "\nadc $0, " + reg(t, 8); // the flags read
                default -> text + "\nadd " + reg(t, 8) + ", " + reg(t, 8); // the flags dead after
            }).undefined(aluUndefined(op));
        }
        for (int i = 0; i < 100; i++) { // CDQE and CWDE (CBW stays the interpreter's)
            Case c = h.add("convert-a", "");
            c.reg(RAX, edges[random.nextInt(edges.length)] ^ (random.nextBoolean() ? 0 : harness.value() & 0xffff_0000_ffffL));
            c.code((random.nextBoolean() ? "cltq" : random.nextBoolean() ? "cwtl" : "cbtw") + "\nmov %rax, %r8");
            int r = pick(16, 1 << RSP);
            // MOV r/m, imm32 with a register destination (C7 /0), 64-bit (sign-extended) or 32-bit (zero-extended)
            int rex = (random.nextBoolean() ? 0x48 : 0x40) | r >> 3;
            h.add("mov-rm-imm", String.format(".byte 0x%x, 0xc7, 0x%x\n.long %d", rex, 0xc0 | r & 7, (int) harness.value()))
                    .reg(r, harness.value());
        }
        for (int i = 0; i < 300; i++) {
            int r = pick(16, 0);
            int q = pick(16, 1 << r);
            Case c = h.add("stack-form", "");
            switch (random.nextInt(5)) {
                case 0 -> { // across a page boundary, in the shared bulk memory
                    c.reg(RSP, DifferentialHarness.BULK + 0x1000L * (1 + random.nextInt(14)) - 12 + random.nextInt(24));
                    c.code("push " + reg(r, 8) + "\npush " + reg(q, 8) + "\npop " + reg(q, 8) + "\npop " + reg(r, 8)
                            + "\npush " + reg(q, 8) + "\npop " + reg(r, 8));
                }
                case 1 -> { // onto a not-present page: #PF, RSP unchanged, the registers of the pushes done before
                    c.code("push " + reg(r, 8) + "\nmovabs $0x" + Long.toHexString(0x1_0000_0008L + 8L * random.nextInt(4))
                            + ", %rsp\npush " + reg(q, 8) + "\nmov $1, %eax");
                }
                case 2 -> c.code("movabs $0x100000000, %rsp\npop " + reg(r, 8) + "\nmov $1, %eax");
                case 3 -> c.code(random.nextBoolean() ? "call 1f\njmp 2f\n1: ret\n2:"
                        : "call 1f\njmp 2f\n1: pop %r8\npush %r8\npush %r8\nret $8\n2:");
                default -> c.code(random.nextBoolean() ? "movabs $0x100000008, %rsp\ncall 1f\n1:"
                        : "movabs $0x100000000, %rsp\nret");
            }
        }
        h.assertAgree();
    }

    /**
     * Unaligned accesses that straddle a page boundary: the part on the second page must land at that
     * page's first byte (Mmu.slowWrite once wrote it at the translation of the access's last byte).
     */
    @Test
    void pageStraddlingAccesses(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] ops = {"movw %ax, (%rbx)", "movl %eax, (%rbx)", "movq %rax, (%rbx)", "addl %eax, (%rbx)", "addq %rax, (%rbx)",
                "movl (%rbx), %ecx", "movq (%rbx), %rcx", "xchgq %rax, (%rbx)", "lock xaddq %rax, (%rbx)", "incq (%rbx)",
                "mov %rbx, %rsp\npushq %rax", "mov %rbx, %rsp\npopq %rcx", "btsq $63, (%rbx)", "shlq $3, (%rbx)"};
        for (String op : ops) {
            for (int off = 1; off < 8; off++) {
                Case c = h.add(op, op);
                if (op.startsWith("shl")) {
                    c.undefined(AF | OF); // a multi-bit shift leaves OF (and AF) undefined
                }
                long at = DifferentialHarness.BULK + 0x1000 * (1 + random.nextInt(14)) - off;
                c.reg(DifferentialHarness.RBX, op.contains("push") ? at + 8 : at);
            }
        }
        h.assertAgree();
    }

    // ---- known gaps ----

    /**
     * Alignment checking: CR0.AM is set by the sandbox, so in ring 3 with EFLAGS.AC set a misaligned access
     * raises #AC(0). Disabled: the interpreter's MMU does not check alignment yet (Linux does not set
     * EFLAGS.AC for user code, so this gap matters only to programs that ask for it).
     */
    @Test
    @Disabled("gap: the interpreter does not raise #AC for misaligned ring-3 accesses with CR0.AM and EFLAGS.AC")
    void alignmentCheck(TestInfo info) throws Exception {
        DifferentialHarness h = harness(info);
        String[] ops = {"mov 1(%rsp), %eax", "movw $7, 3(%rsp)", "mov 2(%rsp), %rax", "pushq %rax\nmov (%rsp), %rax",
                "sub $1, %rsp\npushq %rax", "mov 4(%rsp), %eax"};
        for (String op : ops) {
            Case c = h.add("ac", "push %r8\npopfq\n" + op);
            c.reg(8, 1L << 18 | 0x202).reg(RSP, c.base() + DifferentialHarness.STACK_TOP - 64);
        }
        h.assertAgree();
    }
}
