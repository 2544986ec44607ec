package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.invoke.VarHandle;

/**
 * struct kvm_run (linux/kvm.h), the page KVM shares with userspace per vCPU through mmap of the vCPU fd.
 *
 * <p>Only the exit payloads vmguard decodes are spelled out inside the exit union; its {@code padding}
 * member fixes the union at 256 bytes as in C. The union is anonymous in C; here it is called
 * {@code exit}. The I/O data area lives past the struct, in the same mapping, at {@code io.data_offset}.
 */
final class KvmRunLayout {
    private static final MemoryLayout U8 = JAVA_BYTE;

    private static final StructLayout HW = MemoryLayout.structLayout(
            JAVA_LONG.withName("hardware_exit_reason")).withName("hw");

    private static final StructLayout FAIL_ENTRY = MemoryLayout.structLayout(
            JAVA_LONG.withName("hardware_entry_failure_reason"),
            JAVA_INT.withName("cpu"),
            MemoryLayout.paddingLayout(4)).withName("fail_entry");

    private static final StructLayout IO = MemoryLayout.structLayout(
            U8.withName("direction"),
            U8.withName("size"),
            JAVA_SHORT.withName("port"),
            JAVA_INT.withName("count"),
            JAVA_LONG.withName("data_offset")).withName("io");

    private static final StructLayout MMIO = MemoryLayout.structLayout(
            JAVA_LONG.withName("phys_addr"),
            MemoryLayout.sequenceLayout(8, U8).withName("data"),
            JAVA_INT.withName("len"),
            U8.withName("is_write"),
            MemoryLayout.paddingLayout(3)).withName("mmio");

    private static final StructLayout INTERNAL = MemoryLayout.structLayout(
            JAVA_INT.withName("suberror"),
            JAVA_INT.withName("ndata"),
            MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("data")).withName("internal");

    /** The overlay of {@code internal} for KVM_INTERNAL_ERROR_EMULATION. */
    private static final StructLayout EMULATION_FAILURE = MemoryLayout.structLayout(
            JAVA_INT.withName("suberror"),
            JAVA_INT.withName("ndata"),
            JAVA_LONG.withName("flags"),
            U8.withName("insn_size"),
            MemoryLayout.sequenceLayout(15, U8).withName("insn_bytes")).withName("emulation_failure");

    private static final StructLayout SYSTEM_EVENT = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("ndata"),
            MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("data")).withName("system_event");

    /** KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR: {@code error} goes back to KVM, {@code data} both ways. */
    private static final StructLayout MSR = MemoryLayout.structLayout(
            U8.withName("error"),
            MemoryLayout.sequenceLayout(7, U8).withName("pad"),
            JAVA_INT.withName("reason"),
            JAVA_INT.withName("index"),
            JAVA_LONG.withName("data")).withName("msr");

    private static final UnionLayout EXIT = MemoryLayout.unionLayout(
            HW, FAIL_ENTRY, IO, MMIO, INTERNAL, EMULATION_FAILURE, SYSTEM_EVENT, MSR,
            MemoryLayout.sequenceLayout(256, U8).withName("padding")).withName("exit");

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            U8.withName("request_interrupt_window"),
            U8.withName("immediate_exit"),
            MemoryLayout.sequenceLayout(6, U8).withName("padding1"),
            JAVA_INT.withName("exit_reason"),
            U8.withName("ready_for_interrupt_injection"),
            U8.withName("if_flag"),
            JAVA_SHORT.withName("flags"),
            JAVA_LONG.withName("cr8"),
            JAVA_LONG.withName("apic_base"),
            EXIT,
            JAVA_LONG.withName("kvm_valid_regs"),
            JAVA_LONG.withName("kvm_dirty_regs"),
            // union { struct kvm_sync_regs regs; char padding[SYNC_REGS_SIZE_BYTES]; } s;
            MemoryLayout.sequenceLayout(2048, U8).withName("s")).withName("kvm_run");

    static final long IMMEDIATE_EXIT = LAYOUT.byteOffset(groupElement("immediate_exit"));
    static final long EXIT_REASON = LAYOUT.byteOffset(groupElement("exit_reason"));

    static final long HW_EXIT_REASON = exit("hw", "hardware_exit_reason");
    static final long FAIL_ENTRY_REASON = exit("fail_entry", "hardware_entry_failure_reason");
    static final long FAIL_ENTRY_CPU = exit("fail_entry", "cpu");
    static final long IO_DIRECTION = exit("io", "direction");
    static final long IO_SIZE = exit("io", "size");
    static final long IO_PORT = exit("io", "port");
    static final long IO_COUNT = exit("io", "count");
    static final long IO_DATA_OFFSET = exit("io", "data_offset");
    static final long MMIO_PHYS_ADDR = exit("mmio", "phys_addr");
    static final long MMIO_DATA = exit("mmio", "data");
    static final long MMIO_DATA_SIZE = 8;
    static final long MMIO_LEN = exit("mmio", "len");
    static final long MMIO_IS_WRITE = exit("mmio", "is_write");
    static final long INTERNAL_SUBERROR = exit("internal", "suberror");
    static final long INTERNAL_NDATA = exit("internal", "ndata");
    static final long INTERNAL_DATA = exit("internal", "data");
    static final int INTERNAL_DATA_WORDS = 16;
    static final long EMULATION_FLAGS = exit("emulation_failure", "flags");
    static final long EMULATION_INSN_SIZE = exit("emulation_failure", "insn_size");
    static final long EMULATION_INSN_BYTES = exit("emulation_failure", "insn_bytes");
    static final long SYSTEM_EVENT_TYPE = exit("system_event", "type");
    static final long MSR_ERROR = exit("msr", "error");
    static final long MSR_REASON = exit("msr", "reason");
    static final long MSR_INDEX = exit("msr", "index");
    static final long MSR_DATA = exit("msr", "data");

    static final int IO_IN = 0;
    static final int IO_OUT = 1;

    /**
     * immediate_exit is written by whichever thread asks the vCPU to stop while KVM may be reading it
     * on the vCPU's thread; a volatile access keeps the store from being reordered after the kick.
     */
    private static final VarHandle BYTE_HANDLE = JAVA_BYTE.varHandle();

    private KvmRunLayout() {}

    static void setImmediateExit(MemorySegment run, boolean value) {
        BYTE_HANDLE.setVolatile(run, IMMEDIATE_EXIT, (byte) (value ? 1 : 0));
    }

    static boolean immediateExit(MemorySegment run) {
        return (byte) BYTE_HANDLE.getVolatile(run, IMMEDIATE_EXIT) != 0;
    }

    static int exitReason(MemorySegment run) {
        return run.get(JAVA_INT, EXIT_REASON);
    }

    static int u8(MemorySegment run, long offset) {
        return Byte.toUnsignedInt(run.get(JAVA_BYTE, offset));
    }

    static int u16(MemorySegment run, long offset) {
        return Short.toUnsignedInt(run.get(JAVA_SHORT, offset));
    }

    static long u32(MemorySegment run, long offset) {
        return Integer.toUnsignedLong(run.get(JAVA_INT, offset));
    }

    static long u64(MemorySegment run, long offset) {
        return run.get(JAVA_LONG, offset);
    }

    private static long exit(String member, String field) {
        return LAYOUT.byteOffset(groupElement("exit"), groupElement(member), groupElement(field));
    }
}
