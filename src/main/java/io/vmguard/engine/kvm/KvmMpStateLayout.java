package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_mp_state (linux/kvm.h): whether the vCPU runs, waits in HLT, or waits for INIT/SIPI. */
final class KvmMpStateLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(JAVA_INT.withName("mp_state")).withName("kvm_mp_state");

    static final int RUNNABLE = 0;
    static final int UNINITIALIZED = 1;
    static final int INIT_RECEIVED = 2;
    static final int HALTED = 3;
    /** The last state x86 has; the higher values are s390's. */
    static final int SIPI_RECEIVED = 4;

    private KvmMpStateLayout() {}

    static int read(MemorySegment state) {
        return state.get(JAVA_INT, 0);
    }

    static void write(MemorySegment state, int value) {
        state.set(JAVA_INT, 0, value);
    }
}
