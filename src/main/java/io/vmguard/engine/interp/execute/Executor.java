package io.vmguard.engine.interp.execute;

import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.HotForms;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.fpu.Operands;
import io.vmguard.engine.interp.fpu.SseUnit;
import io.vmguard.engine.interp.fpu.X87Unit;
import io.vmguard.engine.interp.mmu.AtomicAccess;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.mmu.Segmentation;
import java.lang.invoke.VarHandle;

import static io.vmguard.engine.interp.cpu.CpuState.RAX;
import static io.vmguard.engine.interp.cpu.CpuState.RCX;
import static io.vmguard.engine.interp.cpu.CpuState.RDI;
import static io.vmguard.engine.interp.cpu.CpuState.RDX;
import static io.vmguard.engine.interp.cpu.CpuState.RSI;
import static io.vmguard.engine.interp.cpu.CpuState.RSP;

/**
 * Executes decoded instructions against the CPU state and the MMU. Every instruction reads all its
 * operands before it changes any state, so an instruction interrupted by a fault, or by an MMIO read
 * that must first go to the VMM, can simply run again from the start.
 *
 * <p>Returns normally after advancing RIP; a fault unwinds as {@link GuestFault}; I/O that needs the
 * VMM is handed to the {@link Platform}.
 */
public final class Executor implements Operands {
    /** What the executor needs from the rest of the engine: port I/O and system instructions. */
    public interface Platform {
        /** Starts an IN; the engine completes it once the VMM has supplied the value. */
        void portIn(Instruction insn, int port, int size);

        void portOut(int port, int size, long value);

        /** Executes a system instruction (CR/MSR/descriptor tables/SYSCALL/IRET/CPUID/HLT ...). */
        void system(Instruction insn);

        /** Delivers a software interrupt (INT n, INT3) with RIP already at the next instruction. */
        void softwareInterrupt(int vector);

        /**
         * Whether the engine needs a look before anything else runs: a device was read or written, or
         * decoded code was overwritten. A REP string instruction ends its batch of iterations there.
         */
        boolean attentionNeeded();
    }

    private final CpuState cpu;
    private final Mmu mmu;
    private final Platform platform;
    private final SseUnit sse;
    private final X87Unit x87;
    /** Makes LOCK-prefixed instructions and XCHG with memory atomic across vCPUs. */
    private final AtomicAccess atomic;
    private final Runnable lockedInstruction = this::executeLocked;
    private Instruction locked;

    /** An executor for a VM of one vCPU (tests): locked instructions need nothing more. */
    public Executor(CpuState cpu, Mmu mmu, Platform platform) {
        this(cpu, mmu, platform, new AtomicAccess(cpu, mmu, new AtomicAccess.BusLock()));
    }

    public Executor(CpuState cpu, Mmu mmu, Platform platform, AtomicAccess atomic) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.platform = platform;
        this.atomic = atomic;
        this.sse = new SseUnit(cpu, mmu, this);
        this.x87 = new X87Unit(cpu, mmu, this);
    }

    // ---- operands ----

    /** The effective (linear) address of a memory operand, including an FS/GS base. */
    public long address(Instruction insn) {
        return address(insn, 1);
    }

    /**
     * The linear address of a {@code size}-byte memory operand: outside 64-bit mode segment base plus
     * offset, all {@code size} bytes within the segment's limit (#GP(0), #SS(0) for the stack segment).
     */
    long address(Instruction insn, int size) {
        if (insn.legacy) {
            return Segmentation.linear(cpu, insn.segment, effectiveOffset(insn), size);
        }
        return address64(insn);
    }

    /** 64-bit mode: the effective address plus an FS/GS base; RSP and RBP bases are stack (SS) accesses. */
    private long address64(Instruction insn) {
        long address = effectiveOffset(insn);
        if (insn.addrSize != 4 && (insn.base == RSP || insn.base == CpuState.RBP) && insn.segment < 0 && !insn.ripRelative) {
            return stackAddress(address, 1); // RSP and RBP as base select SS
        }
        if (insn.segment == CpuState.FS) {
            address += cpu.fsBase;
        } else if (insn.segment == CpuState.GS) {
            address += cpu.gsBase;
        }
        return address;
    }

    /** Base + index * scale + displacement (or RIP-relative), in the address size: what LEA computes. */
    private long effectiveOffset(Instruction insn) {
        long address = insn.disp;
        if (insn.ripRelative) {
            address += cpu.rip + insn.length;
        } else {
            if (insn.base >= 0) {
                address += cpu.gpr[insn.base];
            }
            if (insn.index >= 0) {
                address += cpu.gpr[insn.index] * insn.scale;
            }
        }
        return insn.addrSize == 8 ? address : insn.addrSize == 4 ? address & 0xffff_ffffL : address & 0xffff;
    }

    long readReg(int reg, int size, boolean rex) {
        long value = cpu.gpr[reg];
        return switch (size) {
            case 1 -> !rex && reg >= 4 && reg < 8 ? (cpu.gpr[reg - 4] >>> 8) & 0xff : value & 0xff;
            case 2 -> value & 0xffff;
            case 4 -> value & 0xffff_ffffL;
            default -> value;
        };
    }

    /** Writes a register as x86 does: 32-bit writes zero the upper half, 8/16-bit writes merge. */
    public void writeReg(int reg, int size, long value, boolean rex) {
        switch (size) {
            case 1 -> {
                if (!rex && reg >= 4 && reg < 8) {
                    cpu.gpr[reg - 4] = (cpu.gpr[reg - 4] & ~0xff00L) | ((value & 0xff) << 8);
                } else {
                    cpu.gpr[reg] = (cpu.gpr[reg] & ~0xffL) | (value & 0xff);
                }
            }
            case 2 -> cpu.gpr[reg] = (cpu.gpr[reg] & ~0xffffL) | (value & 0xffff);
            case 4 -> cpu.gpr[reg] = value & 0xffff_ffffL;
            default -> cpu.gpr[reg] = value;
        }
    }

    public long readRm(Instruction insn, int size) {
        return insn.isMemory() ? mmu.read(address(insn, size), size) : readReg(insn.rm, size, insn.rex);
    }

    public void writeRm(Instruction insn, int size, long value) {
        if (insn.isMemory()) {
            writeDestination(address(insn, size), size, value);
        } else {
            writeReg(insn.rm, size, value, insn.rex);
        }
    }

    /**
     * Reads the destination of a read-modify-write instruction. The CPU reads it with write intent, so a
     * page fault on the read already reports a write access (error code bit 1), as a write would.
     */
    private long readDestination(Instruction insn, int size) {
        if (!insn.isMemory()) {
            return readReg(insn.rm, size, insn.rex);
        }
        long address = address(insn, size);
        return readForWrite(address, size);
    }

    private long readForWrite(long address, int size) {
        if (atomic.active()) {
            return atomic.read(address, size);
        }
        return mmu.readForWrite(address, size);
    }

    /** Every memory write of a read-modify-write instruction: held back for the compare-and-set when locked. */
    private void writeDestination(long address, int size, long value) {
        if (atomic.active()) {
            atomic.write(address, size, value);
        } else {
            mmu.write(address, size, value);
        }
    }

    private long readRegOperand(Instruction insn) {
        return readReg(insn.reg, insn.opSize, insn.rex);
    }

    private void writeRegOperand(Instruction insn, long value) {
        writeReg(insn.reg, insn.opSize, value, insn.rex);
    }

    // ---- stack ----

    void push(long value, int size) {
        if (cpu.codeBits != 64) {
            pushLegacy(value, size);
            return;
        }
        long rsp = cpu.gpr[RSP] - size;
        mmu.write(stackAddress(rsp, size), size, value);
        cpu.gpr[RSP] = rsp;
    }

    long pop(int size) {
        if (cpu.codeBits != 64) {
            return popLegacy(size);
        }
        long value = mmu.read(stackAddress(cpu.gpr[RSP], size), size);
        cpu.gpr[RSP] += size;
        return value;
    }

    /** PUSH outside 64-bit mode: SS:SP or SS:ESP by SS's B bit, within SS's limit. */
    private void pushLegacy(long value, int size) {
        long sp = (cpu.gpr[RSP] - size) & Segmentation.stackMask(cpu);
        mmu.write(Segmentation.linear(cpu, CpuState.SS, sp, size), size, value);
        Segmentation.setStackPointer(cpu, sp);
    }

    private long popLegacy(int size) {
        long value = readStack(0, size);
        Segmentation.setStackPointer(cpu, cpu.gpr[RSP] + size);
        return value;
    }

    /**
     * Reads {@code size} bytes at {@code displacement} above the stack pointer, outside 64-bit mode (SS base,
     * limit, SP or ESP by SS's B bit).
     */
    long readStack(long displacement, int size) {
        long sp = (cpu.gpr[RSP] + displacement) & Segmentation.stackMask(cpu);
        return mmu.read(Segmentation.linear(cpu, CpuState.SS, sp, size), size);
    }

    /**
     * A near branch: in 64-bit mode to a canonical target; elsewhere the target wraps at the operand
     * size (IP or EIP) and must be inside CS's limit, or #GP(0).
     */
    private void branch(Instruction insn, long target) {
        if (!insn.legacy) {
            jump(target);
            return;
        }
        cpu.rip = legacyTarget(target, insn.opSize);
    }

    private void callLegacy(Instruction insn, long target, long returnAddress) {
        long ip = legacyTarget(target, insn.opSize);
        push(returnAddress, insn.opSize);
        cpu.rip = ip;
    }

    private long legacyTarget(long target, int size) {
        long ip = target & (size == 2 ? 0xffff : 0xffff_ffffL);
        if (ip > Integer.toUnsignedLong(cpu.segments[CpuState.CS].limit()) && !cpu.realMode()) {
            throw GuestFault.gp();
        }
        return ip;
    }

    private void jump(long target) {
        if (!canonical(target)) {
            throw GuestFault.gp();
        }
        cpu.rip = target;
    }

    /** Near CALL: a non-canonical target raises #GP(0) before anything is pushed (SDM: CALL, 64-bit mode). */
    private void call(Instruction insn, long target, long returnAddress) {
        if (insn.legacy) {
            callLegacy(insn, target, returnAddress);
            return;
        }
        if (!canonical(target)) {
            throw GuestFault.gp();
        }
        push64(returnAddress);
        cpu.rip = target;
    }

    public static boolean canonical(long address) {
        return (address << 16 >> 16) == address;
    }

    /**
     * A stack (SS) address of a {@code size}-byte access: in 64-bit mode a non-canonical one raises #SS(0),
     * not the #GP(0) of other segments (SDM 6.15, "Interrupt 12").
     */
    public static long stackAddress(long address, int size) {
        if (!canonical(address) || !canonical(address + size - 1)) {
            throw GuestFault.withError(GuestFault.SS, 0);
        }
        return address;
    }

    // ---- execution ----

    /**
     * Executes {@code insn} if it is one of the hot forms (see {@link HotForms}) and returns true; false
     * leaves it to {@link #execute}. Small enough for the JIT to inline into the vCPU's block loop, which
     * then runs the commonest instructions without a call into the big switch.
     */
    public boolean executeHot(Instruction insn) {
        // Each form is a small method of its own: the switch stays within the JIT's inlining budget.
        switch (insn.op) {
            case Op.ALU_RR64 -> aluRegister(insn, cpu.gpr[insn.reg], 8);
            case Op.ALU_RR32 -> aluRegister(insn, cpu.gpr[insn.reg], 4);
            case Op.ALU_RI64 -> aluRegister(insn, insn.imm, 8);
            case Op.ALU_RI32 -> aluRegister(insn, insn.imm, 4);
            case Op.MOV_RR64 -> moveRegister(insn, -1L);
            case Op.MOV_RR32 -> moveRegister(insn, 0xffff_ffffL);
            case Op.LOAD64 -> load64(insn);
            case Op.LOAD32 -> load32(insn);
            case Op.STORE64 -> store64(insn);
            case Op.STORE32 -> store32(insn);
            case Op.LOAD8_ZX -> loadByte(insn);
            case Op.SHIFT_RI -> shiftRegister(insn);
            case Op.CMP_JCC, Op.TEST_JCC -> {
                return compareAndBranch(insn);
            }
            case Op.PUSH64 -> push64(cpu.gpr[insn.reg]);
            case Op.POP64 -> cpu.gpr[insn.reg] = pop64();
            case Op.LEA64 -> cpu.gpr[insn.reg] = effectiveOffset(insn);
            case Op.LEA32 -> cpu.gpr[insn.reg] = effectiveOffset(insn) & 0xffff_ffffL;
            case Op.MOV_RI64 -> cpu.gpr[insn.reg] = insn.imm;
            case Op.MOV_RI32 -> cpu.gpr[insn.reg] = insn.imm & 0xffff_ffffL;
            case Op.STORE_IMM64 -> mmu.write64(address(insn), insn.imm);
            case Op.STORE_IMM32 -> mmu.write32(address(insn, 4), (int) insn.imm);
            case Op.CALL64 -> {
                long next = cpu.rip + insn.length;
                call(insn, next + insn.imm, next);
                return true;
            }
            case Op.RET64 -> {
                return64(insn);
                return true;
            }
            case Op.JCC64 -> {
                long next = cpu.rip + insn.length;
                if (Flags.condition(cpu, insn.sub)) {
                    jump(next + insn.imm);
                } else {
                    cpu.rip = next;
                }
                return true;
            }
            case Op.JMP64 -> {
                jump(cpu.rip + insn.length + insn.imm);
                return true;
            }
            default -> {
                return false;
            }
        }
        cpu.rip += insn.length;
        return true;
    }

    /** PUSH of 8 bytes in 64-bit mode: RSP moves only once the write has succeeded. */
    private void push64(long value) {
        long rsp = cpu.gpr[RSP] - 8;
        mmu.write64(stackAddress(rsp, 8), value);
        cpu.gpr[RSP] = rsp;
    }

    private long pop64() {
        long value = mmu.read64(stackAddress(cpu.gpr[RSP], 8));
        cpu.gpr[RSP] += 8;
        return value;
    }

    /** RET and RET imm16 in 64-bit mode: the target is checked before RSP moves. */
    private void return64(Instruction insn) {
        jump(mmu.read64(stackAddress(cpu.gpr[RSP], 8)));
        cpu.gpr[RSP] += 8 + insn.imm;
    }

    private void moveRegister(Instruction insn, long mask) {
        cpu.gpr[insn.rm] = cpu.gpr[insn.reg] & mask;
    }

    private void load64(Instruction insn) {
        cpu.gpr[insn.reg] = mmu.read64(address(insn));
    }

    private void load32(Instruction insn) {
        cpu.gpr[insn.reg] = mmu.read32(address(insn, 4)) & 0xffff_ffffL;
    }

    private void loadByte(Instruction insn) {
        cpu.gpr[insn.reg] = mmu.read8(address(insn));
    }

    private void store64(Instruction insn) {
        mmu.write64(address(insn), cpu.gpr[insn.reg]);
    }

    private void store32(Instruction insn) {
        mmu.write32(address(insn, 4), (int) cpu.gpr[insn.reg]);
    }

    private void shiftRegister(Instruction insn) {
        cpu.gpr[insn.rm] = Alu.shift(cpu, insn.sub, cpu.gpr[insn.rm], insn.imm, insn.opSize);
    }

    /** ALU operation {@code insn.sub} on register {@code insn.rm}; 32-bit results are zero-extended. */
    private void aluRegister(Instruction insn, long b, int size) {
        long result = Alu.binary(cpu, insn.sub, cpu.gpr[insn.rm], b, size);
        if (insn.sub != Alu.CMP) {
            cpu.gpr[insn.rm] = result;
        }
    }

    /** CMP_JCC and TEST_JCC: the compare, then the branch; RIP is left on the Jcc should its target fault. */
    private boolean compareAndBranch(Instruction insn) {
        long a = cpu.gpr[insn.rm];
        long b = insn.reg >= 0 ? cpu.gpr[insn.reg] : insn.imm;
        boolean taken = insn.op == Op.CMP_JCC
                ? Flags.compareAndTest(cpu, insn.sub, a, b, insn.opSize)
                : Flags.testAndTest(cpu, insn.sub, a, b, insn.opSize);
        long next = cpu.rip + insn.length;
        if (taken) {
            cpu.rip += insn.imm2;
            jump(next + insn.disp);
        } else {
            cpu.rip = next;
        }
        return true;
    }

    /** Executes an SSE instruction whose m64 operand the JIT's code read already ({@link SseUnit#executeWith}). */
    public void executeWithOperand(Instruction insn, long m64) {
        sse.executeWith(insn, m64, () -> execute(insn));
    }

    /** Executes one instruction whose bytes start at {@code cpu.rip}; hot forms go to {@link #executeHot}. */
    public void execute(Instruction insn) {
        if (!executeHot(insn)) {
            executeCold(insn);
        }
    }

    /**
     * Executes {@code insn} once {@link #executeHot} has declined it: the block loop's path, which has made that
     * call itself and needs no second dispatch on the same op.
     */
    public void executeCold(Instruction insn) {
        if ((insn.lock || insn.op == Op.XCHG && insn.isMemory()) && atomic.needed()) {
            locked = insn;
            atomic.run(lockedInstruction);
            return;
        }
        executeGeneric(insn);
    }

    private void executeLocked() {
        executeGeneric(locked);
    }

    private void executeGeneric(Instruction insn) {
        long next = cpu.rip + insn.length;
        int size = insn.opSize;
        switch (insn.op) {
            case Op.ALU_RM_REG -> {
                long a = insn.sub == Alu.CMP ? readRm(insn, size) : readDestination(insn, size);
                long result = Alu.binary(cpu, insn.sub, a, readRegOperand(insn), size);
                if (insn.sub != Alu.CMP) {
                    writeRm(insn, size, result);
                }
            }
            case Op.ALU_REG_RM -> {
                long b = readRm(insn, size);
                long result = Alu.binary(cpu, insn.sub, readRegOperand(insn), b, size);
                if (insn.sub != Alu.CMP) {
                    writeRegOperand(insn, result);
                }
            }
            case Op.ALU_RM_IMM -> {
                long a = insn.sub == Alu.CMP ? readRm(insn, size) : readDestination(insn, size);
                long result = Alu.binary(cpu, insn.sub, a, insn.imm, size);
                if (insn.sub != Alu.CMP) {
                    writeRm(insn, size, result);
                }
            }
            case Op.TEST_RM_REG -> Alu.binary(cpu, Alu.AND, readRm(insn, size), readRegOperand(insn), size);
            case Op.TEST_RM_IMM -> Alu.binary(cpu, Alu.AND, readRm(insn, size), insn.imm, size);
            case Op.MOV_RM_REG -> writeRm(insn, size, readRegOperand(insn));
            case Op.MOV_REG_RM -> writeRegOperand(insn, readRm(insn, size));
            case Op.MOV_RM_IMM -> writeRm(insn, size, insn.imm);
            case Op.MOV_REG_IMM -> writeRegOperand(insn, insn.imm);
            case Op.MOVZX -> writeRegOperand(insn, readRm(insn, insn.sub));
            case Op.MOVSX -> writeRegOperand(insn, Flags.signExtend(readRm(insn, insn.sub), insn.sub));
            case Op.MOVSXD -> writeRegOperand(insn, Flags.signExtend(readRm(insn, 4), 4));
            case Op.LEA -> writeRegOperand(insn, effectiveOffset(insn));
            case Op.XCHG -> {
                long a = readDestination(insn, size);
                long b = readRegOperand(insn);
                writeRm(insn, size, b);
                writeRegOperand(insn, a);
            }
            case Op.PUSH_REG -> push(cpu.gpr[insn.reg], size);
            case Op.POP_REG -> {
                long value = pop(size);
                writeReg(insn.reg, size, value, true);
            }
            case Op.PUSH_IMM -> push(insn.imm, size);
            case Op.PUSH_RM -> push(readRm(insn, size), size);
            case Op.POP_RM -> {
                if (insn.legacy) {
                    popRmLegacy(insn, size);
                    break;
                }
                // The address is computed with RSP already incremented (SDM: POP r/m).
                long value = mmu.read(stackAddress(cpu.gpr[RSP], size), size);
                cpu.gpr[RSP] += size;
                try {
                    writeRm(insn, size, value);
                } catch (GuestFault fault) {
                    cpu.gpr[RSP] -= size;
                    throw fault;
                }
            }
            case Op.PUSHF -> push(cpu.rflags() & ~(Flags.RF | Flags.VM), size);
            case Op.POPF -> popf(size);
            case Op.PUSH_SEG -> push(cpu.segments[insn.reg].selector(), size);
            case Op.INC -> writeRm(insn, size, Alu.inc(cpu, readDestination(insn, size), size));
            case Op.DEC -> writeRm(insn, size, Alu.dec(cpu, readDestination(insn, size), size));
            case Op.NOT -> writeRm(insn, size, ~readDestination(insn, size));
            case Op.NEG -> writeRm(insn, size, Alu.neg(cpu, readDestination(insn, size), size));
            case Op.MUL, Op.IMUL1 -> multiply(insn, size);
            case Op.DIV, Op.IDIV -> divide(insn, size);
            case Op.IMUL_REG_RM -> writeRegOperand(insn, imul(readRegOperand(insn), readRm(insn, size), size));
            case Op.IMUL_REG_RM_IMM -> writeRegOperand(insn, imul(readRm(insn, size), insn.imm, size));
            case Op.SHIFT -> {
                long count = insn.imm < 0 ? cpu.gpr[RCX] & 0xff : insn.imm;
                writeRm(insn, size, Alu.shift(cpu, insn.sub, readDestination(insn, size), count, size));
            }
            case Op.SHLD, Op.SHRD -> {
                long count = insn.imm < 0 ? cpu.gpr[RCX] & 0xff : insn.imm;
                writeRm(insn, size, Alu.doubleShift(cpu, insn.op == Op.SHLD, readDestination(insn, size), readRegOperand(insn), count, size));
            }
            case Op.BT_REG, Op.BT_IMM -> bitTest(insn, size);
            case Op.BSF, Op.BSR -> bitScan(insn, size);
            case Op.TZCNT, Op.LZCNT -> countZeros(insn, size);
            case Op.POPCNT -> {
                long value = readRm(insn, size);
                writeRegOperand(insn, Long.bitCount(value));
                Alu.setArithmetic(cpu, value == 0 ? Flags.ZF : 0);
            }
            case Op.BSWAP -> {
                if (size == 8) {
                    cpu.gpr[insn.reg] = Long.reverseBytes(cpu.gpr[insn.reg]);
                } else {
                    cpu.gpr[insn.reg] = Integer.reverseBytes((int) cpu.gpr[insn.reg]) & 0xffff_ffffL;
                }
            }
            case Op.CONVERT_A -> { // CBW, CWDE, CDQE
                int half = size / 2;
                writeReg(RAX, size, Flags.signExtend(cpu.gpr[RAX], half), true);
            }
            case Op.CONVERT_D -> { // CWD, CDQ, CQO
                long sign = (cpu.gpr[RAX] & Flags.signBit(size)) != 0 ? -1 : 0;
                writeReg(RDX, size, sign, true);
            }
            case Op.JCC -> {
                if (Flags.condition(cpu, insn.sub)) {
                    branch(insn, next + insn.imm);
                    return;
                }
            }
            case Op.JMP_REL -> { branch(insn, next + insn.imm); return; }
            case Op.CALL_REL -> { call(insn, next + insn.imm, next); return; }
            case Op.RET -> {
                if (insn.legacy) {
                    returnLegacy(insn, size);
                    return;
                }
                long target = mmu.read(stackAddress(cpu.gpr[RSP], size), size);
                jump(target);
                cpu.gpr[RSP] += size + insn.imm;
                return;
            }
            case Op.JMP_RM -> { branch(insn, readRm(insn, size)); return; }
            case Op.CALL_RM -> { call(insn, readRm(insn, size), next); return; }
            case Op.LOOP -> {
                long count = (cpu.gpr[RCX] - 1) & addressMask(insn.addrSize);
                boolean taken = count != 0 && switch (insn.sub) {
                    case 0 -> !Flags.zero(cpu); // LOOPNE
                    case 1 -> Flags.zero(cpu);  // LOOPE
                    default -> true;
                };
                writeReg(RCX, insn.addrSize, count, true);
                if (taken) {
                    branch(insn, next + insn.imm);
                    return;
                }
            }
            case Op.JRCXZ -> {
                long count = cpu.gpr[RCX] & addressMask(insn.addrSize);
                if (count == 0) {
                    branch(insn, next + insn.imm);
                    return;
                }
            }
            case Op.SETCC -> writeRm(insn, 1, Flags.condition(cpu, insn.sub) ? 1 : 0);
            case Op.CMOVCC -> {
                long value = readRm(insn, size);
                if (Flags.condition(cpu, insn.sub)) {
                    writeRegOperand(insn, value);
                } else if (size == 4) {
                    writeRegOperand(insn, readRegOperand(insn)); // 32-bit CMOV zero-extends even when not taken
                }
            }
            case Op.CMPXCHG -> {
                long current = readDestination(insn, size);
                long expected = readReg(RAX, size, true);
                Alu.binary(cpu, Alu.CMP, expected, current, size);
                if (current == expected) {
                    writeRm(insn, size, readRegOperand(insn));
                } else {
                    if (insn.isMemory()) {
                        writeRm(insn, size, current); // the locked cycle always writes
                    }
                    writeReg(RAX, size, current, true);
                }
            }
            case Op.XADD -> {
                long a = readDestination(insn, size);
                long b = readRegOperand(insn);
                long sum = Alu.binary(cpu, Alu.ADD, a, b, size);
                if (insn.isMemory()) {
                    mmu.probeWrite(address(insn), size);
                }
                writeRegOperand(insn, a);
                writeRm(insn, size, sum);
            }
            case Op.CMPXCHG16B -> compareExchangeDouble(insn);
            case Op.MOVS, Op.CMPS, Op.STOS, Op.LODS, Op.SCAS, Op.INS, Op.OUTS -> {
                StringOps.step(this, cpu, mmu, platform, insn);
                return;
            }
            case Op.IN -> {
                int port = insn.imm < 0 ? (int) (cpu.gpr[RDX] & 0xffff) : (int) insn.imm;
                platform.portIn(insn, port, size);
                return; // the engine completes the IN and advances RIP
            }
            case Op.OUT -> {
                int port = insn.imm < 0 ? (int) (cpu.gpr[RDX] & 0xffff) : (int) insn.imm;
                cpu.rip = next;
                platform.portOut(port, size, readReg(RAX, size, true));
                return;
            }
            case Op.CLC -> setFlag(Flags.CF, false);
            case Op.STC -> setFlag(Flags.CF, true);
            case Op.CMC -> setFlag(Flags.CF, !Flags.carry(cpu));
            case Op.CLD -> cpu.rflags &= ~Flags.DF;
            case Op.STD -> cpu.rflags |= Flags.DF;
            case Op.SAHF -> {
                long ah = (cpu.gpr[RAX] >>> 8) & (Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF);
                long flags = cpu.rflags();
                Alu.setArithmetic(cpu, (flags & Flags.OF) | ah);
            }
            case Op.LAHF -> {
                long flags = cpu.rflags() & 0xff;
                cpu.gpr[RAX] = (cpu.gpr[RAX] & ~0xff00L) | (flags << 8);
            }
            case Op.NOP, Op.PAUSE -> {
                if (insn.sub == Op.NOP_MFENCE) {
                    VarHandle.fullFence();
                }
            }
            case Op.LEAVE -> {
                if (insn.legacy) {
                    leaveLegacy(size);
                    break;
                }
                long frame = cpu.gpr[CpuState.RBP];
                long saved = mmu.read(stackAddress(frame, size), size);
                cpu.gpr[RSP] = frame + size;
                writeReg(CpuState.RBP, size, saved, true);
            }
            case Op.ENTER -> enter(insn, size);
            case Op.XLAT -> {
                if (insn.legacy) {
                    xlatLegacy(insn);
                    break;
                }
                long address = (cpu.gpr[CpuState.RBX] + (cpu.gpr[RAX] & 0xff)) & (insn.addrSize == 4 ? 0xffff_ffffL : -1L);
                if (insn.segment == CpuState.FS) {
                    address += cpu.fsBase;
                } else if (insn.segment == CpuState.GS) {
                    address += cpu.gsBase;
                }
                writeReg(RAX, 1, mmu.read8(address), true);
            }
            case Op.INT3 -> { cpu.rip = next; platform.softwareInterrupt(GuestFault.BP); return; }
            case Op.INT -> { cpu.rip = next; platform.softwareInterrupt((int) insn.imm & 0xff); return; }
            case Op.INTO -> {
                if (into(next)) {
                    return;
                }
            }
            case Op.PUSHA -> pushAll(size);
            case Op.POPA -> popAll(size);
            case Op.INT1 -> {
                // Delivered like an exception (no DPL check), but as a trap: the frame holds the next RIP.
                cpu.rip = next;
                throw GuestFault.of(GuestFault.DB);
            }
            case Op.SSE -> sse.execute(insn);
            case Op.X87 -> x87.execute(insn);
            case Op.FXSAVE -> fxsave(address(insn, 512));
            case Op.FXRSTOR -> fxrstor(address(insn, 512));
            case Op.LDMXCSR -> {
                int value = mmu.read32(address(insn, 4));
                if ((value & ~0xffff) != 0) {
                    throw GuestFault.gp();
                }
                cpu.mxcsr = value;
            }
            case Op.STMXCSR -> mmu.write32(address(insn, 4), cpu.mxcsr);
            case Op.INVALID, Op.UD2 -> throw GuestFault.ud();
            default -> {
                // System instructions: privileged checks, and those that change control flow, live there.
                platform.system(insn);
                return;
            }
        }
        cpu.rip = next;
    }

    // ---- outside 64-bit mode (out of execute(), which stays small enough for the JIT to inline well) ----

    private void popRmLegacy(Instruction insn, int size) {
        long value = readStack(0, size);
        long oldRsp = cpu.gpr[RSP];
        Segmentation.setStackPointer(cpu, cpu.gpr[RSP] + size);
        try {
            writeRm(insn, size, value);
        } catch (GuestFault fault) {
            cpu.gpr[RSP] = oldRsp;
            throw fault;
        }
    }

    private void returnLegacy(Instruction insn, int size) {
        long target = readStack(0, size);
        cpu.rip = legacyTarget(target, size);
        Segmentation.setStackPointer(cpu, cpu.gpr[RSP] + size + insn.imm);
    }

    private void leaveLegacy(int size) {
        long mask = Segmentation.stackMask(cpu);
        long frame = cpu.gpr[CpuState.RBP] & mask;
        long saved = mmu.read(Segmentation.linear(cpu, CpuState.SS, frame, size), size);
        Segmentation.setStackPointer(cpu, frame + size);
        writeReg(CpuState.RBP, size, saved, true);
    }

    private void xlatLegacy(Instruction insn) {
        long offset = (cpu.gpr[CpuState.RBX] + (cpu.gpr[RAX] & 0xff)) & addressMask(insn.addrSize);
        writeReg(RAX, 1, mmu.read8(Segmentation.linear(cpu, insn.segment, offset, 1)), true);
    }

    /** INTO: interrupt 4 when OF is set (RIP already past it); false when nothing happens. */
    private boolean into(long next) {
        if ((cpu.rflags() & Flags.OF) == 0) {
            return false;
        }
        cpu.rip = next;
        platform.softwareInterrupt(GuestFault.OF);
        return true;
    }

    public static long addressMask(int addrSize) {
        return addrSize == 8 ? -1L : addrSize == 4 ? 0xffff_ffffL : 0xffff;
    }

    /** PUSHA/PUSHAD: AX CX DX BX, the SP from before, BP SI DI; all or nothing. */
    private void pushAll(int size) {
        long sp = cpu.gpr[RSP];
        long mask = Segmentation.stackMask(cpu);
        long lowest = (sp - 8L * size) & mask;
        mmu.probeWrite(Segmentation.linear(cpu, CpuState.SS, lowest, 8 * size), 8 * size);
        for (int reg = 0; reg < 8; reg++) {
            push(reg == RSP ? sp : cpu.gpr[reg], size);
        }
    }

    /** POPA/POPAD: DI SI BP, (SP skipped), BX DX CX AX. */
    private void popAll(int size) {
        long[] values = new long[8];
        for (int i = 0; i < 8; i++) {
            values[7 - i] = readStack((long) i * size, size);
        }
        for (int reg = 0; reg < 8; reg++) {
            if (reg != RSP) {
                writeReg(reg, size, values[reg], true);
            }
        }
        Segmentation.setStackPointer(cpu, cpu.gpr[RSP] + 8L * size);
    }

    private void setFlag(long flag, boolean value) {
        long flags = cpu.rflags();
        Alu.setArithmetic(cpu, value ? flags | flag : flags & ~flag);
    }

    private void popf(int size) {
        long value = pop(size);
        long writable = Flags.WRITABLE;
        if (cpu.cpl > 0) {
            writable &= ~Flags.IOPL;
            if (cpu.cpl > ((cpu.rflags & Flags.IOPL) >>> 12)) {
                writable &= ~Flags.IF;
            }
        }
        if (size == 2) {
            writable &= 0xffff;
        }
        long current = cpu.rflags();
        cpu.setRflags((current & ~writable) | (value & writable));
    }

    private void multiply(Instruction insn, int size) {
        long b = readRm(insn, size);
        boolean signed = insn.op == Op.IMUL1;
        if (size == 8) {
            long a = cpu.gpr[RAX];
            long low = a * b;
            long high = signed ? Math.multiplyHigh(a, b) : Math.unsignedMultiplyHigh(a, b);
            cpu.gpr[RAX] = low;
            cpu.gpr[RDX] = high;
            boolean overflow = signed ? high != (low >> 63) : high != 0;
            Alu.multiplyFlags(cpu, overflow, low, 8);
            return;
        }
        int bits = size * 8;
        long a = readReg(RAX, size, true);
        long product = signed ? Flags.signExtend(a, size) * Flags.signExtend(b, size) : a * (b & Flags.mask(size));
        long low = product & Flags.mask(size);
        long high = (product >> bits) & Flags.mask(size);
        boolean overflow = signed ? Flags.signExtend(low, size) != product : high != 0;
        if (size == 1) {
            writeReg(RAX, 2, product, true);
        } else {
            writeReg(RAX, size, low, true);
            writeReg(RDX, size, high, true);
        }
        Alu.multiplyFlags(cpu, overflow, low, size);
    }

    private long imul(long a, long b, int size) {
        return Alu.imul(cpu, a, b, size);
    }

    private void divide(Instruction insn, int size) {
        long divisor = readRm(insn, size);
        boolean signed = insn.op == Op.IDIV;
        if ((divisor & Flags.mask(size)) == 0) {
            throw GuestFault.of(GuestFault.DE);
        }
        if (size == 8) {
            divide128(divisor, signed);
            return;
        }
        int bits = size * 8;
        long dividend = size == 1 ? readReg(RAX, 2, true)
                : (readReg(RDX, size, true) << bits) | readReg(RAX, size, true);
        long quotient;
        long remainder;
        if (signed) {
            long n = Flags.signExtend(dividend, size * 2);
            long d = Flags.signExtend(divisor, size);
            quotient = n / d;
            remainder = n % d;
            if (quotient != Flags.signExtend(quotient, size)) {
                throw GuestFault.of(GuestFault.DE);
            }
        } else {
            quotient = Long.divideUnsigned(dividend, divisor);
            remainder = Long.remainderUnsigned(dividend, divisor);
            if ((quotient & ~Flags.mask(size)) != 0) {
                throw GuestFault.of(GuestFault.DE);
            }
        }
        if (size == 1) {
            writeReg(RAX, 2, (quotient & 0xff) | ((remainder & 0xff) << 8), true);
        } else {
            writeReg(RAX, size, quotient, true);
            writeReg(RDX, size, remainder, true);
        }
    }

    /** 128-by-64-bit division of RDX:RAX. */
    private void divide128(long divisor, boolean signed) {
        long high = cpu.gpr[RDX];
        long low = cpu.gpr[RAX];
        // Fast paths: the dividend fits in 64 bits, as in almost every DIV compilers emit.
        if (!signed && high == 0) {
            cpu.gpr[RAX] = Long.divideUnsigned(low, divisor);
            cpu.gpr[RDX] = Long.remainderUnsigned(low, divisor);
            return;
        }
        if (signed && high == (low >> 63)) {
            if (low == Long.MIN_VALUE && divisor == -1) {
                throw GuestFault.of(GuestFault.DE);
            }
            cpu.gpr[RAX] = low / divisor;
            cpu.gpr[RDX] = low % divisor;
            return;
        }
        java.math.BigInteger dividend = new java.math.BigInteger(1, toBytes(cpu.gpr[RDX], cpu.gpr[RAX]));
        java.math.BigInteger d;
        if (signed) {
            if (cpu.gpr[RDX] < 0) {
                dividend = dividend.subtract(java.math.BigInteger.ONE.shiftLeft(128));
            }
            d = java.math.BigInteger.valueOf(divisor);
        } else {
            d = new java.math.BigInteger(Long.toUnsignedString(divisor));
        }
        java.math.BigInteger[] qr = dividend.divideAndRemainder(d);
        java.math.BigInteger q = qr[0];
        if (signed ? q.bitLength() > 63 : q.signum() < 0 || q.bitLength() > 64) {
            throw GuestFault.of(GuestFault.DE);
        }
        cpu.gpr[RAX] = q.longValue();
        cpu.gpr[RDX] = qr[1].longValue();
    }

    private static byte[] toBytes(long high, long low) {
        byte[] bytes = new byte[16];
        for (int i = 0; i < 8; i++) {
            bytes[i] = (byte) (high >>> (56 - 8 * i));
            bytes[8 + i] = (byte) (low >>> (56 - 8 * i));
        }
        return bytes;
    }

    private void bitTest(Instruction insn, int size) {
        int bits = size * 8;
        long offset = insn.op == Op.BT_IMM ? insn.imm & (bits - 1) : readRegOperand(insn);
        long value;
        long address = 0;
        int bit;
        if (insn.isMemory()) {
            // A register bit offset may reach outside the operand: it is signed and addresses memory.
            long signedOffset = insn.op == Op.BT_IMM ? offset : Flags.signExtend(offset, size);
            address = address(insn) + (signedOffset >> (bits == 64 ? 6 : bits == 32 ? 5 : 4)) * size;
            bit = (int) (signedOffset & (bits - 1));
            value = insn.sub == 4 ? mmu.read(address, size) : readForWrite(address, size);
        } else {
            bit = (int) (offset & (bits - 1));
            value = readReg(insn.rm, size, insn.rex);
        }
        boolean set = ((value >>> bit) & 1) != 0;
        long flags = cpu.rflags();
        Alu.setArithmetic(cpu, set ? flags | Flags.CF : flags & ~Flags.CF);
        long updated = switch (insn.sub) {
            case 5 -> value | (1L << bit);
            case 6 -> value & ~(1L << bit);
            case 7 -> value ^ (1L << bit);
            default -> value;
        };
        if (insn.sub != 4) {
            if (insn.isMemory()) {
                writeDestination(address, size, updated);
            } else {
                writeReg(insn.rm, size, updated, insn.rex);
            }
        }
    }

    private void bitScan(Instruction insn, int size) {
        long value = readRm(insn, size) & Flags.mask(size);
        long flags = cpu.rflags() & ~Flags.ZF;
        if (value == 0) {
            Alu.setArithmetic(cpu, flags | Flags.ZF); // destination unchanged, as Intel and AMD do
            return;
        }
        int index = insn.op == Op.BSF ? Long.numberOfTrailingZeros(value) : 63 - Long.numberOfLeadingZeros(value);
        writeRegOperand(insn, index);
        Alu.setArithmetic(cpu, flags);
    }

    private void countZeros(Instruction insn, int size) {
        long value = readRm(insn, size) & Flags.mask(size);
        int bits = size * 8;
        int count = insn.op == Op.TZCNT
                ? (value == 0 ? bits : Long.numberOfTrailingZeros(value))
                : (value == 0 ? bits : Long.numberOfLeadingZeros(value) - (64 - bits));
        writeRegOperand(insn, count);
        long flags = cpu.rflags() & ~(Flags.CF | Flags.ZF);
        Alu.setArithmetic(cpu, flags | (value == 0 ? Flags.CF : 0) | (count == 0 ? Flags.ZF : 0));
    }

    private void compareExchangeDouble(Instruction insn) {
        long address = address(insn);
        int half = insn.opSize / 2;
        if (insn.opSize == 16 && (address & 15) != 0) {
            throw GuestFault.gp();
        }
        long low = readForWrite(address, half);
        long high = readForWrite(address + half, half);
        long expectedLow = readReg(RAX, half, true);
        long expectedHigh = readReg(RDX, half, true);
        long flags = cpu.rflags() & ~Flags.ZF;
        mmu.probeWrite(address, insn.opSize);
        if (low == expectedLow && high == expectedHigh) {
            writeDestination(address, half, readReg(CpuState.RBX, half, true));
            writeDestination(address + half, half, readReg(RCX, half, true));
            Alu.setArithmetic(cpu, flags | Flags.ZF);
        } else {
            writeDestination(address, half, low);
            writeDestination(address + half, half, high);
            writeReg(RAX, half, low, true);
            writeReg(RDX, half, high, true);
            Alu.setArithmetic(cpu, flags);
        }
    }

    private void enter(Instruction insn, int size) {
        int level = insn.imm2 & 31;
        if (insn.legacy) {
            enterLegacy(insn, size, level);
            return;
        }
        long frameTemp = cpu.gpr[RSP] - size;
        long lowest = frameTemp - (long) level * size;
        mmu.probeWrite(stackAddress(lowest, size * (level + 1)), size * (level + 1));
        // The outer frame pointers are read before anything is pushed, so a fault on one leaves no trace.
        long[] saved = new long[Math.max(level - 1, 0)];
        for (int i = 1; i < level; i++) {
            saved[i - 1] = mmu.read(stackAddress(cpu.gpr[CpuState.RBP] - (long) i * size, size), size);
        }
        push(cpu.gpr[CpuState.RBP], size);
        for (long pointer : saved) {
            push(pointer, size);
        }
        if (level > 0) {
            push(frameTemp, size);
        }
        writeReg(CpuState.RBP, size, frameTemp, true);
        cpu.gpr[RSP] -= insn.imm;
    }

    /** ENTER outside 64-bit mode: the same frame, through SS with SP or ESP. */
    private void enterLegacy(Instruction insn, int size, int level) {
        long mask = Segmentation.stackMask(cpu);
        long frame = cpu.gpr[CpuState.RBP];
        push(frame, size);
        long frameTemp = cpu.gpr[RSP] & mask;
        for (int i = 1; i < level; i++) {
            frame -= size;
            push(mmu.read(Segmentation.linear(cpu, CpuState.SS, frame & mask, size), size), size);
        }
        if (level > 0) {
            push(frameTemp, size);
        }
        writeReg(CpuState.RBP, size, frameTemp, true);
        Segmentation.setStackPointer(cpu, cpu.gpr[RSP] - insn.imm);
    }

    /** FXSAVE: the 512-byte legacy FPU/SSE image (64-bit layout). */
    private void fxsave(long address) {
        if ((address & 15) != 0) {
            throw GuestFault.gp();
        }
        mmu.probeWrite(address, 512);
        mmu.write16(address, cpu.fpuControl);
        mmu.write16(address + 2, cpu.fpuStatus);
        mmu.write8(address + 4, abridgedTag(cpu.fpuTag));
        mmu.write8(address + 5, 0);
        mmu.write16(address + 6, 0);
        mmu.write64(address + 8, 0);
        mmu.write64(address + 16, 0);
        mmu.write32(address + 24, cpu.mxcsr);
        mmu.write32(address + 28, 0xffff);
        x87.saveRegisters(address + 32);
        for (int i = 0; i < 32; i++) {
            mmu.write64(address + 160 + i * 8L, cpu.xmm[i]);
        }
    }

    private void fxrstor(long address) {
        if ((address & 15) != 0) {
            throw GuestFault.gp();
        }
        int mxcsr = mmu.read32(address + 24);
        if ((mxcsr & ~0xffff) != 0) {
            throw GuestFault.gp();
        }
        long[] xmm = new long[32];
        for (int i = 0; i < 32; i++) {
            xmm[i] = mmu.read64(address + 160 + i * 8L);
        }
        cpu.fpuControl = mmu.read16(address);
        cpu.fpuStatus = mmu.read16(address + 2);
        cpu.fpuTag = fullTag(mmu.read8(address + 4));
        cpu.mxcsr = mxcsr;
        x87.restoreRegisters(address + 32);
        System.arraycopy(xmm, 0, cpu.xmm, 0, 32);
    }

    private static int abridgedTag(int fullTag) {
        int abridged = 0;
        for (int i = 0; i < 8; i++) {
            if (((fullTag >> (2 * i)) & 3) != 3) {
                abridged |= 1 << i;
            }
        }
        return abridged;
    }

    private static int fullTag(int abridged) {
        int full = 0;
        for (int i = 0; i < 8; i++) {
            full |= ((abridged >> i) & 1) != 0 ? 0 : 3 << (2 * i);
        }
        return full;
    }
}
