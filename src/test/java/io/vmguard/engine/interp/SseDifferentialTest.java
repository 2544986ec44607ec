package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.MEM;
import static io.vmguard.engine.interp.FpDifferentialRig.MXCSR;
import static io.vmguard.engine.interp.FpDifferentialRig.RAX;
import static io.vmguard.engine.interp.FpDifferentialRig.RDX;
import static io.vmguard.engine.interp.FpDifferentialRig.RFLAGS;
import static io.vmguard.engine.interp.FpDifferentialRig.V0;
import static io.vmguard.engine.interp.FpDifferentialRig.V1;
import static io.vmguard.engine.interp.FpDifferentialRig.randomDouble;
import static io.vmguard.engine.interp.FpDifferentialRig.randomFloat;
import static io.vmguard.engine.interp.FpDifferentialRig.randomMxcsr;
import static io.vmguard.engine.interp.FpDifferentialRig.randomVector;
import static io.vmguard.engine.interp.FpDifferentialRig.relatedDouble;
import static io.vmguard.engine.interp.FpDifferentialRig.relatedFloat;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * SSE/SSE2 on the interpreter against the host CPU (see {@link FpDifferentialRig}): every instruction the interpreter
 * implements, register and memory forms, over random and edge operands (signed zeros, denormals,
 * infinities, QNaN/SNaN, near-overflow and near-underflow values, cancellations) under random MXCSR
 * rounding modes, DAZ/FTZ and preset sticky flags. Compared: XMM0, XMM1, the stored memory operand,
 * MXCSR, RFLAGS, RAX and RDX.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class SseDifferentialTest {
    private static final int FP_RECORDS = 600;
    private static final int INT_RECORDS = 96;

    private enum Lanes { PS, PD, SS, SD }

    /** V0 and V1 (and MEM, a copy of V1) filled with floats or doubles, the second lane-wise related to the first. */
    private static BiConsumer<Random, ByteBuffer> floats(Lanes lanes) {
        return (r, b) -> {
            boolean dbl = lanes == Lanes.PD || lanes == Lanes.SD;
            for (int i = 0; i < 16; i += dbl ? 8 : 4) {
                if (dbl) {
                    long a = randomDouble(r);
                    long c = relatedDouble(r, a);
                    b.putLong(V0 + i, a).putLong(V1 + i, c).putLong(MEM + i, c);
                } else {
                    int a = randomFloat(r);
                    int c = relatedFloat(r, a);
                    b.putInt(V0 + i, a).putInt(V1 + i, c).putInt(MEM + i, c);
                }
            }
            b.putInt(MXCSR, randomMxcsr(r));
            b.putLong(RFLAGS, 2 | (r.nextLong() & 0x8d5));
        };
    }

    private static BiConsumer<Random, ByteBuffer> vectors() {
        return (r, b) -> {
            for (int i = 0; i < 16; i += 8) {
                long a = randomVector(r);
                long c = r.nextInt(4) == 0 ? a : randomVector(r);
                b.putLong(V0 + i, a).putLong(V1 + i, c).putLong(MEM + i, c);
            }
            b.putLong(RAX, r.nextLong());
            b.putLong(RDX, r.nextLong());
            b.putInt(MXCSR, randomMxcsr(r));
        };
    }

    /** Integer conversion sources: integers of every size, values near 2^31 and 2^63, halves (rounding ties). */
    private static BiConsumer<Random, ByteBuffer> conversions(boolean dbl) {
        return (r, b) -> {
            for (int i = 0; i < 16; i += dbl ? 8 : 4) {
                double v = switch (r.nextInt(6)) {
                    case 0 -> (r.nextInt(41) - 20) / 2.0;
                    case 1 -> Math.scalb((double) (r.nextLong() >> 11), r.nextInt(20) - 22 + (r.nextBoolean() ? 31 : 63) - 31);
                    case 2 -> (r.nextBoolean() ? 1 : -1) * (Math.scalb(1.0, r.nextBoolean() ? 31 : 63) + (r.nextInt(9) - 4) * (dbl ? 0.5 : 256));
                    case 3 -> r.nextGaussian() * Math.scalb(1.0, r.nextInt(70));
                    default -> Double.NaN;
                };
                if (dbl) {
                    long bits = Double.isNaN(v) ? randomDouble(r) : Double.doubleToRawLongBits(v);
                    b.putLong(V0 + i, bits).putLong(V1 + i, bits).putLong(MEM + i, bits);
                } else {
                    int bits = Double.isNaN(v) ? randomFloat(r) : Float.floatToRawIntBits((float) v);
                    b.putInt(V0 + i, bits).putInt(V1 + i, bits).putInt(MEM + i, bits);
                }
            }
            long integer = switch (r.nextInt(4)) {
                case 0 -> r.nextInt(2001) - 1000;
                case 1 -> r.nextLong() >> r.nextInt(64);
                case 2 -> (1L << (24 + r.nextInt(40))) + r.nextInt(7) - 3;
                default -> r.nextLong();
            };
            b.putLong(RAX, integer).putLong(MEM, integer).putLong(MEM + 8, r.nextLong());
            b.putInt(MXCSR, randomMxcsr(r));
        };
    }

    @Test
    void sseAndSse2AgreeWithTheHostCpu() throws Exception {
        FpDifferentialRig rig = new FpDifferentialRig("sse", FpDifferentialRig.seedFor("sse"));
        addFloatingPoint(rig);
        addConversions(rig);
        addMoves(rig);
        addInteger(rig);
        rig.assertAgree();
    }

    /**
     * Unmasked SIMD exceptions raise #XM (19) at the faulting instruction, misaligned operands of the aligned
     * forms #GP (13), on both engines alike.
     */
    @Test
    void simdExceptionsAreRaisedWhereTheHardwareRaisesThem() throws Exception {
        // body, MXCSR, XMM1 operand (XMM0 is 1.0), whether it faults
        String[][] cases = {
                {"divsd %xmm1, %xmm0", "0x1d80", "0", "yes"}, // ZE unmasked: 1/0
                {"sqrtpd %xmm1, %xmm0", "0x1f00", "0xbff0000000000000", "yes"}, // IE unmasked: sqrt(-1)
                {"cvtsd2si %xmm1, %eax", "0x1f00", "0x4270000000000000", "yes"}, // IE unmasked: 2^40 does not fit
                {"mulsd %xmm1, %xmm1", "0x1b80", "0x7fe0000000000000", "yes"}, // OE unmasked
                {"divsd %xmm1, %xmm0", "0x0f80", "0x4008000000000000", "yes"}, // PE unmasked: 1/3
                {"mulsd %xmm1, %xmm0", "0x0f80", "0x1", "no"}, // PE unmasked, but 1 x 2^-1074 is exact
                {"mulsd %xmm1, %xmm0", "0x1780", "0x1", "yes"}, // UE unmasked: tiny, even though exact
                {"mulsd %xmm1, %xmm0", "0x9780", "0x1", "yes"}, // and FTZ does not apply
                {"addsd %xmm1, %xmm0", "0x1f00", "0x3ff0000000000000", "no"},
                // Misaligned 16-byte memory operands of the aligned forms: #GP (13).
                {"movaps 0x21(%r13), %xmm0", "0x1f80", "0", "13"},
                {"movdqa %xmm0, 0x28(%r14)", "0x1f80", "0", "13"},
                // Arithmetic on a misaligned operand: #GP on hardware (the host oracle's), but this host's KVM
                // intercepts the #GP, fails to emulate the instruction and injects #UD: not compared with KVM.
                {"paddb 0x24(%r13), %xmm0", "0x1f80", "0", "13 not-kvm"},
                {"addpd 0x28(%r13), %xmm0", "0x1f80", "0", "13 not-kvm"},
                {"movdqu 0x21(%r13), %xmm0; addsd 0x21(%r13), %xmm0; movups %xmm0, 0x23(%r14)", "0x1f80", "0", "no"},
        };
        for (String[] c : cases) {
            FpDifferentialRig rig = new FpDifferentialRig("sse-xm", 1);
            rig.sse(c[0], c[0], 2, (r, b) -> {
                b.putLong(V0, 0x3ff0_0000_0000_0000L).putLong(V0 + 8, 0x3ff0_0000_0000_0000L);
                long operand = Long.parseUnsignedLong(c[2].replace("0x", ""), 16);
                b.putLong(V1, operand).putLong(V1 + 8, operand);
                b.putInt(MXCSR, Integer.decode(c[1]));
            });
            java.util.Map<String, String> faults = rig.faultsOnEveryEngine();
            String interp = faults.remove("interp");
            faults.forEach((oracle, fault) -> {
                if (!(c[3].endsWith("not-kvm") && oracle.equals("kvm"))) {
                    org.junit.jupiter.api.Assertions.assertEquals(fault, interp, c[0] + ": " + oracle + ", interpreter");
                }
            });
            String vector = c[3].equals("yes") ? "19" : c[3].split(" ")[0];
            org.junit.jupiter.api.Assertions.assertEquals(!c[3].equals("no"), interp.startsWith("exception vector " + vector + " "),
                    c[0] + ": " + interp);
        }
    }

    private static void addFloatingPoint(FpDifferentialRig rig) {
        for (String op : new String[] {"add", "sub", "mul", "div", "min", "max", "sqrt"}) {
            for (Lanes lanes : Lanes.values()) {
                String mnemonic = op + lanes.name().toLowerCase();
                rig.sse(mnemonic, mnemonic + " %xmm1, %xmm0", FP_RECORDS, floats(lanes));
                rig.sse(mnemonic + " m", mnemonic + " 0x20(%r13), %xmm0", FP_RECORDS / 6, floats(lanes));
            }
        }
        for (String op : new String[] {"rcp", "rsqrt"}) {
            // Approximations from a CPU table: only the special operands have architectural results.
            for (String lanes : new String[] {"ps", "ss"}) {
                rig.sse(op + lanes, op + lanes + " %xmm1, %xmm0", 40, (r, b) -> {
                    int[] values = {0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7f80_0001, 0xffc0_1234,
                            1, 0x8000_0001, 0x0012_3456, 0xbf80_0000};
                    for (int i = 0; i < 16; i += 4) {
                        int v = values[r.nextInt(values.length)];
                        if (op.equals("rcp") && v == 0xbf80_0000) {
                            v = 0xff80_0000;
                        }
                        b.putInt(V0 + i, randomFloat(r)).putInt(V1 + i, v);
                    }
                    b.putInt(MXCSR, randomMxcsr(r));
                });
            }
        }
        for (int predicate = 0; predicate < 8; predicate++) {
            for (Lanes lanes : Lanes.values()) {
                String mnemonic = "cmp" + lanes.name().toLowerCase();
                rig.sse(mnemonic + " " + predicate, mnemonic + " $" + predicate + ", %xmm1, %xmm0", FP_RECORDS / 4, floats(lanes));
            }
        }
        rig.sse("cmpsd m", "cmpsd $1, 0x20(%r13), %xmm0", 30, floats(Lanes.SD));
        rig.sse("cmpps m", "cmpps $6, 0x20(%r13), %xmm0", 30, floats(Lanes.PS));
        for (String op : new String[] {"comiss", "ucomiss"}) {
            rig.sse(op, op + " %xmm1, %xmm0", FP_RECORDS, floats(Lanes.SS));
            rig.sse(op + " m", op + " 0x20(%r13), %xmm0", 40, floats(Lanes.SS));
        }
        for (String op : new String[] {"comisd", "ucomisd"}) {
            rig.sse(op, op + " %xmm1, %xmm0", FP_RECORDS, floats(Lanes.SD));
            rig.sse(op + " m", op + " 0x20(%r13), %xmm0", 40, floats(Lanes.SD));
        }
        for (String op : new String[] {"and", "andn", "or", "xor"}) {
            rig.sse(op + "ps", op + "ps %xmm1, %xmm0", INT_RECORDS / 4, vectors());
            rig.sse(op + "pd", op + "pd 0x20(%r13), %xmm0", INT_RECORDS / 4, vectors());
        }
        rig.sse("unpcklps", "unpcklps %xmm1, %xmm0", 16, vectors());
        rig.sse("unpckhps", "unpckhps 0x20(%r13), %xmm0", 16, vectors());
        rig.sse("unpcklpd", "unpcklpd %xmm1, %xmm0", 16, vectors());
        rig.sse("unpckhpd", "unpckhpd %xmm1, %xmm0", 16, vectors());
        for (int imm : new int[] {0x00, 0x1b, 0xe4, 0x4e, 0xb1, 0xff, 0x72}) {
            rig.sse("shufps " + imm, "shufps $" + imm + ", %xmm1, %xmm0", 8, vectors());
        }
        rig.sse("shufps m", "shufps $0x9c, 0x20(%r13), %xmm0", 8, vectors());
        for (int imm = 0; imm < 4; imm++) {
            rig.sse("shufpd " + imm, "shufpd $" + imm + ", %xmm1, %xmm0", 8, vectors());
        }
    }

    private static void addConversions(FpDifferentialRig rig) {
        String[][] toInteger = {
                {"cvtsd2si %xmm1, %rax", "d"}, {"cvtsd2si %xmm1, %eax", "d"}, {"cvttsd2si %xmm1, %rax", "d"},
                {"cvttsd2si %xmm1, %eax", "d"}, {"cvtss2si %xmm1, %rax", "s"}, {"cvtss2si %xmm1, %eax", "s"},
                {"cvttss2si %xmm1, %rax", "s"}, {"cvttss2si %xmm1, %eax", "s"},
                {"cvtsd2si 0x20(%r13), %rax", "d"}, {"cvttss2si 0x20(%r13), %eax", "s"},
                {"cvtps2dq %xmm1, %xmm0", "s"}, {"cvttps2dq %xmm1, %xmm0", "s"}, {"cvtpd2dq %xmm1, %xmm0", "d"},
                {"cvttpd2dq %xmm1, %xmm0", "d"}, {"cvttpd2dq 0x20(%r13), %xmm0", "d"},
                {"cvtss2sd %xmm1, %xmm0", "s"}, {"cvtsd2ss %xmm1, %xmm0", "d"}, {"cvtps2pd %xmm1, %xmm0", "s"},
                {"cvtpd2ps %xmm1, %xmm0", "d"}, {"cvtps2pd 0x20(%r13), %xmm0", "s"}, {"cvtsd2ss 0x20(%r13), %xmm0", "d"},
        };
        for (String[] test : toInteger) {
            rig.sse(test[0], test[0], FP_RECORDS / 2, conversions(test[1].equals("d")));
        }
        // Float-width conversions also over the general operand mix.
        rig.sse("cvtsd2ss general", "cvtsd2ss %xmm1, %xmm0", FP_RECORDS, floats(Lanes.PD));
        rig.sse("cvtpd2ps general", "cvtpd2ps %xmm1, %xmm0", FP_RECORDS / 2, floats(Lanes.PD));
        rig.sse("cvtss2sd general", "cvtss2sd %xmm1, %xmm0", FP_RECORDS / 2, floats(Lanes.PS));
        rig.sse("cvtps2pd general", "cvtps2pd %xmm1, %xmm0", FP_RECORDS / 2, floats(Lanes.PS));
        rig.sse("cvtsd2si general", "cvtsd2si %xmm1, %rax", FP_RECORDS / 2, floats(Lanes.PD));
        rig.sse("cvtss2si general", "cvtss2si %xmm1, %eax", FP_RECORDS / 2, floats(Lanes.PS));
        String[] fromInteger = {
                "cvtsi2sd %rax, %xmm0", "cvtsi2sd %eax, %xmm0", "cvtsi2ss %rax, %xmm0", "cvtsi2ss %eax, %xmm0",
                "cvtsi2sdq 0x20(%r13), %xmm0", "cvtsi2ssl 0x20(%r13), %xmm0", "cvtdq2ps %xmm1, %xmm0",
                "cvtdq2pd %xmm1, %xmm0", "cvtdq2ps 0x20(%r13), %xmm0", "cvtdq2pd 0x20(%r13), %xmm0",
        };
        for (String test : fromInteger) {
            rig.sse(test, test, FP_RECORDS / 3, (r, b) -> {
                conversions(true).accept(r, b);
                for (int i = 0; i < 16; i += 4) {
                    int v = r.nextBoolean() ? r.nextInt() : (1 << (20 + r.nextInt(11))) + r.nextInt(9) - 4;
                    b.putInt(V1 + i, v).putInt(MEM + i, v);
                }
            });
        }
    }

    private static void addMoves(FpDifferentialRig rig) {
        String[] moves = {
                "movaps %xmm1, %xmm0", "movaps 0x20(%r13), %xmm0", "movaps %xmm1, 0x20(%r14)",
                "movups %xmm1, %xmm0", "movups 0x21(%r13), %xmm0", "movups %xmm1, 0x23(%r14)",
                "movapd %xmm1, %xmm0", "movapd 0x20(%r13), %xmm0", "movapd %xmm1, 0x20(%r14)",
                "movupd 0x24(%r13), %xmm0", "movupd %xmm1, 0x21(%r14)",
                "movdqa %xmm1, %xmm0", "movdqa 0x20(%r13), %xmm0", "movdqa %xmm1, 0x20(%r14)",
                "movdqu %xmm1, %xmm0", "movdqu 0x27(%r13), %xmm0", "movdqu %xmm1, 0x25(%r14)",
                "movss %xmm1, %xmm0", "movss 0x20(%r13), %xmm0", "movss %xmm1, 0x20(%r14)",
                "movsd %xmm1, %xmm0", "movsd 0x20(%r13), %xmm0", "movsd %xmm1, 0x20(%r14)",
                "movd %eax, %xmm0", "movq %rax, %xmm0", "movd %xmm1, %eax", "movq %xmm1, %rax",
                "movd 0x20(%r13), %xmm0", "movq 0x20(%r13), %xmm0", "movd %xmm1, 0x20(%r14)", "movq %xmm1, 0x20(%r14)",
                "movq %xmm1, %xmm0", ".byte 0x66, 0x0f, 0xd6, 0xc8", // movq xmm1 -> xmm0 (66 0F D6 form)
                "movlps 0x20(%r13), %xmm0", "movhps 0x20(%r13), %xmm0", "movlpd 0x20(%r13), %xmm0",
                "movhpd 0x20(%r13), %xmm0", "movlps %xmm1, 0x20(%r14)", "movhps %xmm1, 0x20(%r14)",
                "movlpd %xmm1, 0x20(%r14)", "movhpd %xmm1, 0x20(%r14)", "movhlps %xmm1, %xmm0", "movlhps %xmm1, %xmm0",
                "movmskps %xmm1, %eax", "movmskpd %xmm1, %eax", "pmovmskb %xmm1, %eax", "pmovmskb %xmm1, %rdx",
                "movntps %xmm1, 0x20(%r14)", "movntpd %xmm1, 0x20(%r14)", "movntdq %xmm1, 0x20(%r14)",
                "movnti %eax, 0x20(%r14)", "movnti %rax, 0x28(%r14)",
                "lea 0x20(%r14), %rdi; maskmovdqu %xmm0, %xmm1",
                "emms",
        };
        for (String move : moves) {
            rig.sse(move, move, 12, vectors());
        }
        for (int imm = 0; imm < 8; imm++) {
            rig.sse("pinsrw " + imm, "pinsrw $" + imm + ", %eax, %xmm0", 6, vectors());
            rig.sse("pextrw " + imm, "pextrw $" + imm + ", %xmm1, %eax", 6, vectors());
        }
        // RAX = MXCSR | MXCSR_MASK << 32: the mask is 0x2ffff on AMD (MM, bit 17), 0xffff on Intel (VendorDifference).
        rig.sse("fxsave mxcsr", "fxsave 0x3e0000; mov 0x3e0018, %rax; mov 0x3e00b0, %rdx", 8, vectors())
                .vendorSpecific(VendorDifference.FXSAVE_MXCSR_MASK_MM, RAX + 4, 4, 0x0002_ffffL, 0x0000_ffffL);
        rig.sse("fxrstor xmm", "fxsave 0x3e0000; xorps %xmm0, %xmm0; xorps %xmm1, %xmm1; fxrstor 0x3e0000", 8, vectors());
        rig.sse("pinsrw m", "pinsrw $5, 0x20(%r13), %xmm0", 6, vectors());
        rig.sse("pextrw 64", "pextrw $3, %xmm1, %rdx", 6, vectors());
    }

    private static void addInteger(FpDifferentialRig rig) {
        String[] binary = {
                "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw",
                "paddusb", "paddusw", "psubsb", "psubsw", "psubusb", "psubusw", "pcmpeqb", "pcmpeqw", "pcmpeqd",
                "pcmpgtb", "pcmpgtw", "pcmpgtd", "pminub", "pmaxub", "pminsw", "pmaxsw", "pavgb", "pavgw",
                "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "psadbw", "pand", "pandn", "por", "pxor",
                "packsswb", "packuswb", "packssdw", "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq",
                "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
        };
        for (String op : binary) {
            rig.sse(op, op + " %xmm1, %xmm0", INT_RECORDS, vectors());
            rig.sse(op + " m", op + " 0x20(%r13), %xmm0", 8, vectors());
        }
        for (String op : new String[] {"psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"}) {
            rig.sse(op, op + " %xmm1, %xmm0", INT_RECORDS, (r, b) -> {
                vectors().accept(r, b);
                long count = r.nextInt(3) == 0 ? r.nextLong() >>> r.nextInt(64) : r.nextInt(70);
                b.putLong(V1, count).putLong(MEM, count);
            });
            rig.sse(op + " m", op + " 0x20(%r13), %xmm0", 8, (r, b) -> {
                vectors().accept(r, b);
                b.putLong(MEM, r.nextInt(40));
            });
            for (int imm : new int[] {0, 1, 5, 15, 16, 31, 32, 63, 64, 200}) {
                rig.sse(op + " " + imm, op + " $" + imm + ", %xmm0", 4, vectors());
            }
        }
        for (String op : new String[] {"pslldq", "psrldq"}) {
            for (int imm : new int[] {0, 1, 3, 7, 8, 9, 15, 16, 17, 255}) {
                rig.sse(op + " " + imm, op + " $" + imm + ", %xmm0", 4, vectors());
            }
        }
        for (int imm : new int[] {0x00, 0x1b, 0xe4, 0x4e, 0xb1, 0xff, 0x39}) {
            rig.sse("pshufd " + imm, "pshufd $" + imm + ", %xmm1, %xmm0", 6, vectors());
            rig.sse("pshufhw " + imm, "pshufhw $" + imm + ", %xmm1, %xmm0", 6, vectors());
            rig.sse("pshuflw " + imm, "pshuflw $" + imm + ", %xmm1, %xmm0", 6, vectors());
        }
        rig.sse("pshufd m", "pshufd $0x93, 0x20(%r13), %xmm0", 6, vectors());
    }
}
