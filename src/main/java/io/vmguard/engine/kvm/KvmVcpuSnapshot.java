package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vmguard.engine.EngineException;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A KVM vCPU's whole state as a snapshot tree. Named fields where they are architectural and small
 * (general registers, debug registers, the MP state, MSRs by index); KVM's own structs as raw bytes
 * where KVM defines the format (sregs, the XSAVE area, XCRs, the LAPIC page, pending events), each of
 * a size checked at restore.
 *
 * <p>Save order (after Firecracker's and QEMU's reading of KVM): the MP state first, because
 * KVM_GET_MP_STATE accepts pending INIT/SIPI events and may change the registers read after it; the
 * pending events last, because the other GET ioctls may still move an event into them.
 *
 * <p>Restore order: regs before sregs (QEMU and Firecracker agree; neither touches the other's fields),
 * and regs well before the events, since KVM_SET_REGS clears any pending exception; sregs before the
 * LAPIC, since sregs carries the APIC base that KVM_SET_LAPIC depends on; the LAPIC before the MSRs,
 * since IA32_TSC_DEADLINE only arms in a LAPIC already in TSC-deadline mode; the MP state after the LAPIC
 * and before the events, which may latch an INIT that the MP state must not contradict; the events last.
 * Every field is read and checked before the first SET, so a corrupt snapshot changes nothing.
 */
final class KvmVcpuSnapshot {
    static final String ENGINE = "kvm";
    static final int FORMAT = 1;

    private static final List<String> REGISTER_NAMES = KvmRegsLayout.LAYOUT.memberLayouts().stream()
            .map(member -> member.name().orElseThrow()).toList();
    private static final int SREGS_BYTES = (int) KvmSregsLayout.LAYOUT.byteSize();
    private static final int FPU_BYTES = (int) KvmFpuLayout.LAYOUT.byteSize();
    private static final int XCRS_BYTES = (int) KvmXcrsLayout.LAYOUT.byteSize();
    private static final int EVENTS_BYTES = (int) KvmVcpuEventsLayout.LAYOUT.byteSize();

    private KvmVcpuSnapshot() {}

    static void save(KvmVcpu vcpu, KvmStateFormat format, StateWriter out) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            out.putString("engine", ENGINE);
            out.putInt("format", FORMAT);
            MemorySegment mpState = get(vcpu, arena, KvmMpStateLayout.LAYOUT, KvmIoctls.KVM_GET_MP_STATE, "KVM_GET_MP_STATE");
            out.putInt("mpState", KvmMpStateLayout.read(mpState));

            MemorySegment regs = get(vcpu, arena, KvmRegsLayout.LAYOUT, KvmIoctls.KVM_GET_REGS, "KVM_GET_REGS");
            StateWriter regsOut = out.child("regs");
            for (int i = 0; i < REGISTER_NAMES.size(); i++) {
                regsOut.putLong(REGISTER_NAMES.get(i), regs.getAtIndex(JAVA_LONG, i));
            }
            out.putBytes("sregs", bytes(get(vcpu, arena, KvmSregsLayout.LAYOUT, KvmIoctls.KVM_GET_SREGS, "KVM_GET_SREGS")));
            if (format.xsave()) {
                MemorySegment xsave = arena.allocate(format.xsaveBytes(), Long.BYTES);
                vcpu.ioctl(format.xsave2() ? KvmIoctls.KVM_GET_XSAVE2 : KvmIoctls.KVM_GET_XSAVE, xsave,
                        format.xsave2() ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE");
                out.putBytes("xsave", bytes(xsave));
            } else {
                out.putBytes("fpu", bytes(get(vcpu, arena, KvmFpuLayout.LAYOUT, KvmIoctls.KVM_GET_FPU, "KVM_GET_FPU")));
            }
            if (format.xcrs()) {
                out.putBytes("xcrs", bytes(get(vcpu, arena, KvmXcrsLayout.LAYOUT, KvmIoctls.KVM_GET_XCRS, "KVM_GET_XCRS")));
            }
            MemorySegment debug = get(vcpu, arena, KvmDebugregsLayout.LAYOUT, KvmIoctls.KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
            out.child("debugRegs")
                    .putLongs("db", KvmDebugregsLayout.db(debug))
                    .putLong("dr6", KvmDebugregsLayout.dr6(debug))
                    .putLong("dr7", KvmDebugregsLayout.dr7(debug));
            out.putBytes("lapic", bytes(get(vcpu, arena, KvmLapicStateLayout.LAYOUT, KvmIoctls.KVM_GET_LAPIC, "KVM_GET_LAPIC")));
            saveMsrs(vcpu, format, arena, out);
            out.putBytes("vcpuEvents",
                    bytes(get(vcpu, arena, KvmVcpuEventsLayout.LAYOUT, KvmIoctls.KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS")));
        }
    }

    /**
     * The MSRs of {@link KvmSnapshotMsrs} that this host's KVM saves. KVM_GET_MSRS stops at the first
     * MSR it refuses and returns how many it read; the refused one is left out and the read goes on after it.
     */
    private static void saveMsrs(KvmVcpu vcpu, KvmStateFormat format, Arena arena, StateWriter out) throws EngineException {
        int[] wanted = format.msrs().stream().mapToInt(Integer::intValue).toArray();
        List<Integer> refused = new ArrayList<>();
        int start = 0;
        while (start < wanted.length) {
            int[] rest = Arrays.copyOfRange(wanted, start, wanted.length);
            MemorySegment msrs = KvmMsrsLayout.of(arena, rest, null);
            int read = vcpu.ioctl(KvmIoctls.KVM_GET_MSRS, msrs, "KVM_GET_MSRS");
            for (int i = 0; i < read; i++) {
                MemorySegment entry = KvmMsrsLayout.entry(msrs, i);
                out.append("msrs").putInt("index", KvmMsrEntryLayout.index(entry)).putLong("value", KvmMsrEntryLayout.data(entry));
            }
            if (read < rest.length) {
                refused.add(rest[read]);
            }
            start += read + 1;
        }
        // Not read back: says which MSRs this host's KVM would not give, for whoever reads the file.
        out.putInts("msrsRefused", refused.stream().mapToInt(Integer::intValue).toArray());
    }

    static void restore(KvmVcpu vcpu, KvmStateFormat format, StateReader in) throws EngineException, SnapshotException {
        State state = State.read(in, format);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment regs = arena.allocate(KvmRegsLayout.LAYOUT);
            for (int i = 0; i < state.regs.length; i++) {
                regs.setAtIndex(JAVA_LONG, i, state.regs[i]);
            }
            set(vcpu, in, "regs", regs, KvmIoctls.KVM_SET_REGS, "KVM_SET_REGS");
            set(vcpu, in, "sregs", segment(arena, state.sregs),
                    KvmIoctls.KVM_SET_SREGS, "KVM_SET_SREGS");
            MemorySegment fpu = segment(arena, state.fpu);
            if (format.xsave()) {
                set(vcpu, in, "xsave", fpu, KvmIoctls.KVM_SET_XSAVE, "KVM_SET_XSAVE");
            } else {
                set(vcpu, in, "fpu", fpu, KvmIoctls.KVM_SET_FPU, "KVM_SET_FPU");
            }
            if (format.xcrs()) {
                set(vcpu, in, "xcrs", segment(arena, state.xcrs), KvmIoctls.KVM_SET_XCRS, "KVM_SET_XCRS");
            }
            MemorySegment debug = arena.allocate(KvmDebugregsLayout.LAYOUT);
            KvmDebugregsLayout.write(debug, state.db, state.dr6, state.dr7);
            set(vcpu, in, "debugRegs", debug, KvmIoctls.KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS");
            set(vcpu, in, "lapic", segment(arena, state.lapic), KvmIoctls.KVM_SET_LAPIC, "KVM_SET_LAPIC");
            restoreMsrs(vcpu, arena, in, state);
            MemorySegment mpState = arena.allocate(KvmMpStateLayout.LAYOUT);
            KvmMpStateLayout.write(mpState, state.mpState);
            set(vcpu, in, "mpState", mpState, KvmIoctls.KVM_SET_MP_STATE, "KVM_SET_MP_STATE");
            set(vcpu, in, "vcpuEvents", segment(arena, state.events), KvmIoctls.KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS");
        }
    }

    private static void restoreMsrs(KvmVcpu vcpu, Arena arena, StateReader in, State state) throws SnapshotException, EngineException {
        if (state.msrIndices.length == 0) {
            return;
        }
        MemorySegment msrs = KvmMsrsLayout.of(arena, state.msrIndices, state.msrValues);
        int written = vcpu.ioctl(KvmIoctls.KVM_SET_MSRS, msrs, "KVM_SET_MSRS");
        if (written < state.msrIndices.length) {
            throw new SnapshotException(String.format("snapshot field %s: KVM refused to write 0x%x to %s",
                    name(in, "msrs." + written), state.msrValues[written], KvmSnapshotMsrs.name(state.msrIndices[written])));
        }
    }

    /** Everything a restore needs, read and checked before anything is written to KVM. */
    private record State(int mpState, long[] regs, byte[] sregs, byte[] fpu, byte[] xcrs, long[] db, long dr6, long dr7,
                         byte[] lapic, int[] msrIndices, long[] msrValues, byte[] events) {
        static State read(StateReader in, KvmStateFormat format) throws SnapshotException {
            String engine = in.getString("engine");
            if (!ENGINE.equals(engine)) {
                throw new SnapshotException("snapshot field " + name(in, "engine") + " says the vCPU was saved by the "
                        + engine + " engine; a KVM vCPU restores only state the KVM engine saved");
            }
            in.getInt("format", FORMAT, FORMAT);
            int mpState = in.getInt("mpState", KvmMpStateLayout.RUNNABLE, KvmMpStateLayout.SIPI_RECEIVED);
            StateReader regsIn = in.child("regs");
            long[] regs = new long[REGISTER_NAMES.size()];
            for (int i = 0; i < regs.length; i++) {
                regs[i] = regsIn.getLong(REGISTER_NAMES.get(i));
            }
            byte[] sregs = in.getBytes("sregs", SREGS_BYTES);
            byte[] fpu;
            if (format.xsave()) {
                if (!in.has("xsave") && in.has("fpu")) {
                    throw new SnapshotException("snapshot field " + name(in, "xsave")
                            + " is missing: the snapshot was taken on a host without XSAVE, this one has it");
                }
                fpu = in.getBytes("xsave", format.xsaveBytes());
            } else {
                if (!in.has("fpu") && in.has("xsave")) {
                    throw new SnapshotException("snapshot field " + name(in, "fpu")
                            + " is missing: the snapshot holds an XSAVE area, which this host's KVM cannot take");
                }
                fpu = in.getBytes("fpu", FPU_BYTES);
            }
            byte[] xcrs = format.xcrs() ? in.getBytes("xcrs", XCRS_BYTES) : null;
            StateReader debug = in.child("debugRegs");
            long[] db = debug.getLongs("db", KvmDebugregsLayout.BREAKPOINTS);
            long dr6 = debug.getLong("dr6");
            long dr7 = debug.getLong("dr7");
            byte[] lapic = in.getBytes("lapic", KvmLapicStateLayout.REGISTER_PAGE_BYTES);
            List<StateReader> msrs = in.list("msrs", KvmSnapshotMsrs.NAMES.size());
            int[] indices = new int[msrs.size()];
            long[] values = new long[msrs.size()];
            Set<Integer> seen = new HashSet<>();
            for (int i = 0; i < indices.length; i++) {
                StateReader msr = msrs.get(i);
                indices[i] = msr.getInt("index");
                if (!KvmSnapshotMsrs.NAMES.containsKey(indices[i])) {
                    throw new SnapshotException(String.format("snapshot field %s is 0x%x, an MSR a KVM snapshot does not restore",
                            name(msr, "index"), indices[i]));
                }
                if (!seen.add(indices[i])) {
                    throw new SnapshotException("snapshot field " + name(msr, "index") + " repeats "
                            + KvmSnapshotMsrs.name(indices[i]));
                }
                values[i] = msr.getLong("value");
            }
            byte[] events = in.getBytes("vcpuEvents", EVENTS_BYTES);
            return new State(mpState, regs, sregs, fpu, xcrs, db, dr6, dr7, lapic, indices, values, events);
        }
    }

    /** A SET ioctl whose refusal is reported as the snapshot field that KVM did not take. */
    private static void set(KvmVcpu vcpu, StateReader in, String field, MemorySegment argument, long request, String ioctl)
            throws SnapshotException {
        try {
            vcpu.ioctl(request, argument, ioctl);
        } catch (EngineException e) {
            throw new SnapshotException("snapshot field " + name(in, field) + " was refused: " + e.getMessage(), e);
        }
    }

    private static MemorySegment get(KvmVcpu vcpu, Arena arena, MemoryLayout layout, long request, String name)
            throws EngineException {
        MemorySegment segment = arena.allocate(layout);
        vcpu.ioctl(request, segment, name);
        return segment;
    }

    private static MemorySegment segment(Arena arena, byte[] bytes) {
        MemorySegment segment = arena.allocate(bytes.length, Long.BYTES);
        MemorySegment.copy(bytes, 0, segment, JAVA_BYTE, 0, bytes.length);
        return segment;
    }

    private static byte[] bytes(MemorySegment segment) {
        return segment.toArray(JAVA_BYTE);
    }

    private static String name(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }
}
