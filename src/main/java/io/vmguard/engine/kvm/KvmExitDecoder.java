package io.vmguard.engine.kvm;

import io.vmguard.engine.VcpuExit;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;

/**
 * Turns the kvm_run of a completed KVM_RUN into a {@link VcpuExit}, for every exit reason but
 * KVM_EXIT_IO (see {@link PortIoElements}). Never throws: what vmguard does not expect becomes an
 * {@link VcpuExit.InternalError} whose message says exactly what KVM reported.
 */
final class KvmExitDecoder {
    private static final int INTERNAL_ERROR_EMULATION = 1;
    private static final int INTERNAL_ERROR_SIMUL_EX = 2;
    private static final int INTERNAL_ERROR_DELIVERY_EV = 3;
    private static final int INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;
    private static final long EMULATION_FLAG_INSTRUCTION_BYTES = 1;

    private static final int SYSTEM_EVENT_SHUTDOWN = 1;
    private static final int SYSTEM_EVENT_RESET = 2;
    private static final int SYSTEM_EVENT_CRASH = 3;

    /** VMX basic exit reasons that show up as entry failures (Intel SDM vol. 3, appendix C). */
    private static final int VMX_INVALID_GUEST_STATE = 33;
    private static final int VMX_MSR_LOADING = 34;
    private static final int VMX_MACHINE_CHECK = 41;

    private KvmExitDecoder() {}

    static VcpuExit decode(MemorySegment run) {
        int reason = KvmRunLayout.exitReason(run);
        return switch (reason) {
            case KvmExitReason.MMIO -> mmio(run);
            case KvmExitReason.HLT -> new VcpuExit.Halt();
            case KvmExitReason.SHUTDOWN -> new VcpuExit.Shutdown("triple fault or shutdown");
            case KvmExitReason.SYSTEM_EVENT -> systemEvent(run);
            case KvmExitReason.INTR -> new VcpuExit.Interrupted();
            case KvmExitReason.FAIL_ENTRY -> failEntry(run);
            case KvmExitReason.INTERNAL_ERROR -> internalError(run);
            case KvmExitReason.UNKNOWN -> new VcpuExit.InternalError(String.format(
                    "KVM_EXIT_UNKNOWN: hardware exit reason 0x%x", KvmRunLayout.u64(run, KvmRunLayout.HW_EXIT_REASON)));
            default -> new VcpuExit.InternalError("unexpected KVM exit: " + KvmExitReason.describe(reason));
        };
    }

    private static VcpuExit mmio(MemorySegment run) {
        long address = KvmRunLayout.u64(run, KvmRunLayout.MMIO_PHYS_ADDR);
        long length = KvmRunLayout.u32(run, KvmRunLayout.MMIO_LEN);
        if (length == 0 || length > KvmRunLayout.MMIO_DATA_SIZE) {
            return new VcpuExit.InternalError(String.format(
                    "KVM_EXIT_MMIO at 0x%x with impossible length %d", address, length));
        }
        MemorySegment data = run.asSlice(KvmRunLayout.MMIO_DATA, length);
        return KvmRunLayout.u8(run, KvmRunLayout.MMIO_IS_WRITE) != 0
                ? new VcpuExit.MmioWrite(address, data)
                : new VcpuExit.MmioRead(address, data);
    }

    private static VcpuExit systemEvent(MemorySegment run) {
        long type = KvmRunLayout.u32(run, KvmRunLayout.SYSTEM_EVENT_TYPE);
        return switch ((int) type) {
            case SYSTEM_EVENT_SHUTDOWN -> new VcpuExit.Shutdown("guest requested power-off (KVM system event)");
            case SYSTEM_EVENT_RESET -> new VcpuExit.Shutdown("guest requested reset (KVM system event)");
            case SYSTEM_EVENT_CRASH -> new VcpuExit.Shutdown("guest crashed (KVM system event)");
            default -> new VcpuExit.InternalError("unexpected KVM_EXIT_SYSTEM_EVENT type " + type);
        };
    }

    private static VcpuExit failEntry(MemorySegment run) {
        long hardwareReason = KvmRunLayout.u64(run, KvmRunLayout.FAIL_ENTRY_REASON);
        long cpu = KvmRunLayout.u32(run, KvmRunLayout.FAIL_ENTRY_CPU);
        String meaning = switch ((int) (hardwareReason & 0xffff)) {
            case VMX_INVALID_GUEST_STATE -> " (VMX: invalid guest state)";
            case VMX_MSR_LOADING -> " (VMX: MSR loading)";
            case VMX_MACHINE_CHECK -> " (VMX: machine check)";
            default -> "";
        };
        return new VcpuExit.InternalError(String.format(
                "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x%x%s on host cpu %d", hardwareReason, meaning, cpu));
    }

    private static VcpuExit internalError(MemorySegment run) {
        long suberror = KvmRunLayout.u32(run, KvmRunLayout.INTERNAL_SUBERROR);
        long ndata = Math.min(KvmRunLayout.u32(run, KvmRunLayout.INTERNAL_NDATA), KvmRunLayout.INTERNAL_DATA_WORDS);
        StringBuilder message = new StringBuilder("KVM_EXIT_INTERNAL_ERROR: ");
        message.append(switch ((int) suberror) {
            case INTERNAL_ERROR_EMULATION -> "instruction emulation failed";
            case INTERNAL_ERROR_SIMUL_EX -> "exception while delivering an exception";
            case INTERNAL_ERROR_DELIVERY_EV -> "event delivery failed";
            case INTERNAL_ERROR_UNEXPECTED_EXIT_REASON -> "unexpected hardware exit reason";
            default -> "unknown problem";
        });
        message.append(" (suberror ").append(suberror).append(')');
        if (suberror == INTERNAL_ERROR_EMULATION
                && (KvmRunLayout.u64(run, KvmRunLayout.EMULATION_FLAGS) & EMULATION_FLAG_INSTRUCTION_BYTES) != 0) {
            int size = Math.min(KvmRunLayout.u8(run, KvmRunLayout.EMULATION_INSN_SIZE), 15);
            byte[] bytes = run.asSlice(KvmRunLayout.EMULATION_INSN_BYTES, size).toArray(ValueLayout.JAVA_BYTE);
            message.append(", instruction bytes ").append(HexFormat.ofDelimiter(" ").formatHex(bytes));
        } else if (ndata > 0) {
            message.append(", data");
            for (int i = 0; i < ndata; i++) {
                message.append(String.format(" 0x%x", KvmRunLayout.u64(run, KvmRunLayout.INTERNAL_DATA + i * Long.BYTES)));
            }
        }
        return new VcpuExit.InternalError(message.toString());
    }
}
