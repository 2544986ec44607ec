package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_fpu (asm/kvm.h): x87 and SSE state in FXSAVE's arrangement. */
final class KvmFpuLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(8, MemoryLayout.sequenceLayout(16, JAVA_BYTE)).withName("fpr"),
            JAVA_SHORT.withName("fcw"),
            JAVA_SHORT.withName("fsw"),
            JAVA_BYTE.withName("ftwx"),
            JAVA_BYTE.withName("pad1"),
            JAVA_SHORT.withName("last_opcode"),
            JAVA_LONG.withName("last_ip"),
            JAVA_LONG.withName("last_dp"),
            MemoryLayout.sequenceLayout(16, MemoryLayout.sequenceLayout(16, JAVA_BYTE)).withName("xmm"),
            JAVA_INT.withName("mxcsr"),
            JAVA_INT.withName("pad2")).withName("kvm_fpu");

    /** FNINIT's control word: all x87 exceptions masked, 64-bit precision, round to nearest. */
    static final short RESET_FCW = 0x37f;
    /** MXCSR at power-on: all SIMD exceptions masked, round to nearest. */
    static final int RESET_MXCSR = 0x1f80;

    private static final long FCW = LAYOUT.byteOffset(groupElement("fcw"));
    private static final long MXCSR = LAYOUT.byteOffset(groupElement("mxcsr"));

    private KvmFpuLayout() {}

    /**
     * The power-on FPU: registers and status zero, every x87 register empty (ftwx, the abridged tag
     * word, 0), FCW and MXCSR at their reset values.
     */
    static void writeResetState(MemorySegment fpu) {
        fpu.fill((byte) 0);
        fpu.set(JAVA_SHORT, FCW, RESET_FCW);
        fpu.set(JAVA_INT, MXCSR, RESET_MXCSR);
    }

    static short fcw(MemorySegment fpu) {
        return fpu.get(JAVA_SHORT, FCW);
    }

}
