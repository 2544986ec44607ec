package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vmguard.engine.Registers;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_regs (asm/kvm.h): the general-purpose registers, rip and rflags, 18 x __u64. */
final class KvmRegsLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags")).withName("kvm_regs");

    private KvmRegsLayout() {}

    static Registers read(MemorySegment regs) {
        return new Registers(
                get(regs, 0), get(regs, 1), get(regs, 2), get(regs, 3),
                get(regs, 4), get(regs, 5), get(regs, 6), get(regs, 7),
                get(regs, 8), get(regs, 9), get(regs, 10), get(regs, 11),
                get(regs, 12), get(regs, 13), get(regs, 14), get(regs, 15),
                get(regs, 16), get(regs, 17));
    }

    static void write(MemorySegment regs, Registers r) {
        long[] values = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(),
                r.r8(), r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        for (int i = 0; i < values.length; i++) {
            regs.setAtIndex(JAVA_LONG, i, values[i]);
        }
    }

    /** Fields are consecutive __u64 in the order of the record, so the i-th field is at i * 8. */
    private static long get(MemorySegment regs, int field) {
        return regs.getAtIndex(JAVA_LONG, field);
    }
}
