package io.vmguard.engine.interp.execute;

import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.mmu.Segmentation;

import static io.vmguard.engine.interp.cpu.CpuState.RAX;
import static io.vmguard.engine.interp.cpu.CpuState.RCX;
import static io.vmguard.engine.interp.cpu.CpuState.RDI;
import static io.vmguard.engine.interp.cpu.CpuState.RDX;
import static io.vmguard.engine.interp.cpu.CpuState.RSI;

/**
 * MOVS, CMPS, STOS, LODS, SCAS, INS and OUTS with their REP forms. A REP instruction runs a batch of
 * iterations per step and then reports that it is not finished, so the step loop can take interrupts
 * between batches (as hardware does) and RIP stays on the instruction until RCX reaches zero.
 */
public final class StringOps {
    /** Iterations per step: long enough to amortise the step loop, short enough for interrupt latency. */
    private static final int BATCH = 4096;

    private StringOps() {}

    /**
     * Runs up to one batch. RIP moves past the instruction only when it is finished; otherwise it stays,
     * with RSI, RDI and RCX recording the iterations done, and the instruction runs again.
     */
    static void step(Executor executor, CpuState cpu, Mmu mmu, Executor.Platform platform, Instruction insn) {
        int size = insn.opSize;
        long addressMask = Executor.addressMask(insn.addrSize);
        long delta = (cpu.rflags & Flags.DF) != 0 ? -size : size;
        boolean rep = insn.rep != 0;
        long sourceBase = insn.segment == CpuState.FS ? cpu.fsBase : insn.segment == CpuState.GS ? cpu.gsBase : 0;
        // Port I/O leaves the engine for every element: one element per step.
        int budget = insn.op == Op.INS || insn.op == Op.OUTS ? 1 : BATCH;
        boolean runs = rep && delta > 0 && insn.addrSize == 8 && !insn.legacy && (insn.op == Op.MOVS || insn.op == Op.STOS);
        for (int i = 0; i < budget; i++) {
            if (rep && (cpu.gpr[RCX] & addressMask) == 0) {
                if (insn.addrSize == 4) {
                    zeroCountWith32BitAddresses(cpu, insn.op);
                }
                cpu.rip += insn.length;
                return;
            }
            if (runs) {
                long done = run(cpu, mmu, insn, sourceBase, size, budget - i);
                if (done > 0) {
                    i += (int) done - 1;
                    continue;
                }
            }
            long si = cpu.gpr[RSI] & addressMask;
            long di = cpu.gpr[RDI] & addressMask;
            boolean compare = false;
            switch (insn.op) {
                case Op.MOVS -> {
                    long value = mmu.read(source(cpu, insn, sourceBase, si, size), size);
                    mmu.write(destination(cpu, insn, di, size), size, value);
                    advance(cpu, RSI, delta, addressMask);
                    advance(cpu, RDI, delta, addressMask);
                }
                case Op.CMPS -> {
                    long a = mmu.read(source(cpu, insn, sourceBase, si, size), size);
                    long b = mmu.read(destination(cpu, insn, di, size), size);
                    Alu.binary(cpu, Alu.CMP, a, b, size);
                    advance(cpu, RSI, delta, addressMask);
                    advance(cpu, RDI, delta, addressMask);
                    compare = true;
                }
                case Op.STOS -> {
                    mmu.write(destination(cpu, insn, di, size), size, cpu.gpr[RAX]);
                    advance(cpu, RDI, delta, addressMask);
                }
                case Op.LODS -> {
                    long value = mmu.read(source(cpu, insn, sourceBase, si, size), size);
                    executor.writeReg(RAX, size, value, true);
                    advance(cpu, RSI, delta, addressMask);
                }
                case Op.SCAS -> {
                    long b = mmu.read(destination(cpu, insn, di, size), size);
                    Alu.binary(cpu, Alu.CMP, executor.readReg(RAX, size, true), b, size);
                    advance(cpu, RDI, delta, addressMask);
                    compare = true;
                }
                case Op.OUTS -> {
                    long value = mmu.read(source(cpu, insn, sourceBase, si, size), size);
                    advance(cpu, RSI, delta, addressMask);
                    finishIteration(cpu, insn, rep, addressMask);
                    platform.portOut((int) (cpu.gpr[RDX] & 0xffff), size, value);
                    return;
                }
                case Op.INS -> {
                    mmu.probeWrite(destination(cpu, insn, di, size), size);
                    // The engine writes the value at RDI, moves RDI and counts RCX once the VMM answers.
                    platform.portIn(insn, (int) (cpu.gpr[RDX] & 0xffff), size);
                    return;
                }
                default -> throw new IllegalStateException("not a string op: " + insn.op);
            }
            if (!rep) {
                cpu.rip += insn.length;
                return;
            }
            writeCount(cpu, (cpu.gpr[RCX] - 1) & addressMask, insn.addrSize);
            if (compare) {
                boolean zero = Flags.zero(cpu);
                if ((insn.rep == Instruction.REP && !zero) || (insn.rep == Instruction.REPNE && zero)) {
                    cpu.rip += insn.length;
                    return;
                }
            }
            // An iteration that touched a device is complete and counted: the VMM handles it before the next
            // one (its writes go out in order, and a read is answered for one iteration at a time).
            if (platform.attentionNeeded()) {
                return;
            }
        }
    }

    /**
     * Up to {@code limit} elements of a forward REP MOVS or STOS with 64-bit addresses moved at once, when they
     * lie whole in RAM pages the TLB maps (the destination neither code nor watched): one copy or fill
     * instead of an MMU read and write per element, the registers then as after that many elements. Returns
     * the elements done, 0 when the next element must take the element path (it crosses a page, touches a
     * device, code or a watched page, or overlaps its own source closer than an element), which is exact for
     * faults too: the pages are looked up source first, as the element path reads before it writes, and a
     * fault leaves the registers at the element that took it. A copy whose destination lies ahead of its
     * source within the run moves at most that distance at a time, as element-by-element copying would
     * repeat the pattern.
     */
    private static long run(CpuState cpu, Mmu mmu, Instruction insn, long sourceBase, int size, long limit) {
        long di = cpu.gpr[RDI];
        long count = Long.compareUnsigned(cpu.gpr[RCX], limit) < 0 ? cpu.gpr[RCX] : limit; // RCX is unsigned
        long elements = Math.min(count, (4096 - (di & 0xfff)) / size);
        if (insn.op == Op.MOVS) {
            long si = sourceBase + cpu.gpr[RSI];
            elements = Math.min(elements, (4096 - (si & 0xfff)) / size);
            if (elements < 2) {
                return 0;
            }
            java.lang.foreign.MemorySegment from = mmu.ramPage(si, Mmu.READ);
            java.lang.foreign.MemorySegment to = from == null ? null : mmu.ramPage(di, Mmu.WRITE);
            if (to == null || !from.isNative() || !to.isNative()) {
                return 0;
            }
            long distance = (to.address() + (di & 0xfff)) - (from.address() + (si & 0xfff));
            if (distance > 0 && distance < elements * size) {
                elements = distance / size;
                if (elements < 2) {
                    return 0;
                }
            }
            long bytes = elements * size;
            java.lang.foreign.MemorySegment.copy(from, si & 0xfff, to, di & 0xfff, bytes);
            cpu.gpr[RSI] += bytes;
            cpu.gpr[RDI] += bytes;
        } else {
            if (elements < 2) {
                return 0;
            }
            java.lang.foreign.MemorySegment to = mmu.ramPage(di, Mmu.WRITE);
            if (to == null) {
                return 0;
            }
            fill(to, di & 0xfff, elements, size, cpu.gpr[RAX]);
            cpu.gpr[RDI] += elements * size;
        }
        cpu.gpr[RCX] -= elements;
        return elements;
    }

    /** STOS's pattern, the low {@code size} bytes of {@code value} little-endian, {@code elements} times from {@code offset}. */
    private static void fill(java.lang.foreign.MemorySegment page, long offset, long elements, int size, long value) {
        long pattern = switch (size) {
            case 1 -> (value & 0xff) * 0x0101_0101_0101_0101L;
            case 2 -> (value & 0xffff) * 0x0001_0001_0001_0001L;
            case 4 -> (value & 0xffff_ffffL) * 0x0000_0001_0000_0001L;
            default -> value;
        };
        long bytes = elements * size;
        if (pattern == 0 || pattern == -1 || size == 1) {
            page.asSlice(offset, bytes).fill((byte) pattern);
            return;
        }
        long at = offset;
        long end = offset + bytes;
        for (; at + 8 <= end; at += 8) {
            page.set(LONG_LE, at, pattern);
        }
        for (int shift = 0; at < end; at++, shift += 8) {
            page.set(java.lang.foreign.ValueLayout.JAVA_BYTE, at, (byte) (pattern >>> shift));
        }
    }

    private static final java.lang.foreign.ValueLayout.OfLong LONG_LE =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /**
     * A REP string instruction with a 32-bit address size that finds ECX zero still writes its registers
     * as 32-bit ones, as Intel CPUs do (checked against hardware by IntegerDifferentialTest): RCX's upper half
     * is cleared, and so are those of RSI and RDI for MOVS, of RDI for STOS (their fast-string paths), while
     * CMPS, SCAS and LODS leave RSI and RDI alone. After one or more iterations the 32-bit updates have
     * cleared them anyway, so only the zero-count case needs this.
     */
    private static void zeroCountWith32BitAddresses(CpuState cpu, int op) {
        cpu.gpr[RCX] = 0;
        if (op == Op.MOVS) {
            cpu.gpr[RSI] &= 0xffff_ffffL;
        }
        if (op == Op.MOVS || op == Op.STOS) {
            cpu.gpr[RDI] &= 0xffff_ffffL;
        }
    }

    /** After one element of INS/OUTS: count it and leave RIP on the instruction if more remain. */
    public static void finishIteration(CpuState cpu, Instruction insn, boolean rep, long addressMask) {
        if (!rep) {
            cpu.rip += insn.length;
            return;
        }
        long remaining = (cpu.gpr[RCX] - 1) & addressMask;
        writeCount(cpu, remaining, insn.addrSize);
        if (remaining == 0) {
            cpu.rip += insn.length;
        }
    }

    /** The linear address of a string source element: DS (or the override) outside 64-bit mode. */
    private static long source(CpuState cpu, Instruction insn, long base, long offset, int size) {
        return insn.legacy ? Segmentation.linear(cpu, insn.segment, offset, size) : base + offset;
    }

    /** The linear address of a string destination element: always ES outside 64-bit mode (no override). */
    public static long destination(CpuState cpu, Instruction insn, long offset, int size) {
        return insn.legacy ? Segmentation.linear(cpu, CpuState.ES, offset, size) : offset;
    }

    public static void advance(CpuState cpu, int reg, long delta, long addressMask) {
        if (addressMask == -1L) {
            cpu.gpr[reg] += delta;
        } else if (addressMask == 0xffff) {
            cpu.gpr[reg] = (cpu.gpr[reg] & ~0xffffL) | ((cpu.gpr[reg] + delta) & 0xffff); // SI/DI wrap, the rest stays
        } else {
            cpu.gpr[reg] = (cpu.gpr[reg] + delta) & addressMask;
        }
    }

    private static void writeCount(CpuState cpu, long value, int addrSize) {
        cpu.gpr[RCX] = switch (addrSize) {
            case 4 -> value & 0xffff_ffffL;
            case 2 -> (cpu.gpr[RCX] & ~0xffffL) | (value & 0xffff);
            default -> value;
        };
    }
}
