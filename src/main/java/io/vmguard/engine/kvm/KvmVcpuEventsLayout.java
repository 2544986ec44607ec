package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_vcpu_events (asm/kvm.h): the exception, interrupt, NMI and SMI a vCPU has pending or is
 * injecting, and its interrupt shadow (STI/MOV SS). vmguard hands it back to KVM as KVM wrote it: the
 * {@code flags} KVM_GET_VCPU_EVENTS sets are exactly the parts KVM_SET_VCPU_EVENTS should restore.
 */
final class KvmVcpuEventsLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.structLayout(
                    JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("nr"),
                    JAVA_BYTE.withName("has_error_code"), JAVA_BYTE.withName("pending"),
                    JAVA_INT.withName("error_code")).withName("exception"),
            MemoryLayout.structLayout(
                    JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("nr"),
                    JAVA_BYTE.withName("soft"), JAVA_BYTE.withName("shadow")).withName("interrupt"),
            MemoryLayout.structLayout(
                    JAVA_BYTE.withName("injected"), JAVA_BYTE.withName("pending"),
                    JAVA_BYTE.withName("masked"), JAVA_BYTE.withName("pad")).withName("nmi"),
            JAVA_INT.withName("sipi_vector"),
            JAVA_INT.withName("flags"),
            MemoryLayout.structLayout(
                    JAVA_BYTE.withName("smm"), JAVA_BYTE.withName("pending"),
                    JAVA_BYTE.withName("smm_inside_nmi"), JAVA_BYTE.withName("latched_init")).withName("smi"),
            MemoryLayout.structLayout(JAVA_BYTE.withName("pending")).withName("triple_fault"),
            MemoryLayout.sequenceLayout(26, JAVA_BYTE).withName("reserved"),
            JAVA_BYTE.withName("exception_has_payload"),
            JAVA_LONG.withName("exception_payload")).withName("kvm_vcpu_events");

    private KvmVcpuEventsLayout() {}
}
