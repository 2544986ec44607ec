package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_debugregs (asm/kvm.h): DR0-DR3, DR6 and DR7; {@code flags} must be 0 on KVM_SET_DEBUGREGS. */
final class KvmDebugregsLayout {
    static final int BREAKPOINTS = 4;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(BREAKPOINTS, JAVA_LONG).withName("db"),
            JAVA_LONG.withName("dr6"),
            JAVA_LONG.withName("dr7"),
            JAVA_LONG.withName("flags"),
            MemoryLayout.sequenceLayout(9, JAVA_LONG).withName("reserved")).withName("kvm_debugregs");

    private static final long DB = LAYOUT.byteOffset(groupElement("db"));
    private static final long DR6 = LAYOUT.byteOffset(groupElement("dr6"));
    private static final long DR7 = LAYOUT.byteOffset(groupElement("dr7"));

    private KvmDebugregsLayout() {}

    static long[] db(MemorySegment regs) {
        long[] db = new long[BREAKPOINTS];
        for (int i = 0; i < BREAKPOINTS; i++) {
            db[i] = regs.get(JAVA_LONG, DB + (long) i * Long.BYTES);
        }
        return db;
    }

    static long dr6(MemorySegment regs) {
        return regs.get(JAVA_LONG, DR6);
    }

    static long dr7(MemorySegment regs) {
        return regs.get(JAVA_LONG, DR7);
    }

    /** All fields, flags and reserved zero. */
    static void write(MemorySegment regs, long[] db, long dr6, long dr7) {
        regs.fill((byte) 0);
        for (int i = 0; i < BREAKPOINTS; i++) {
            regs.set(JAVA_LONG, DB + (long) i * Long.BYTES, db[i]);
        }
        regs.set(JAVA_LONG, DR6, dr6);
        regs.set(JAVA_LONG, DR7, dr7);
    }
}
