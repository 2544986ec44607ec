package io.vmguard.engine.interp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.platform.VmClock;
import io.vmguard.memory.GuestMemory;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.Payload;
import io.vmguard.testing.PayloadAssembler;
import io.vmguard.testing.PayloadHarness;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * An interpreter VM for snapshot tests: src/test/payloads/interp-snapshot.S in ring 0, on a clock that counts
 * the vCPU's instructions ({@link #NANOS_PER_INSTRUCTION} each) instead of host time, so that when each
 * timer interrupt arrives depends only on the guest's progress: two machines in the same state run to
 * the same end, bit for bit, and any difference is the snapshot's.
 *
 * <p>A clock made this way also counts from zero in a fresh VM, like a new process's host clock: a
 * restored VM's time only continues because the restore makes it.
 */
final class SnapshotRig implements AutoCloseable {
    static final long NANOS_PER_INSTRUCTION = 10;
    static final int TIMER_VECTOR = 0x40;
    static final int PIT_VECTOR = 0x20;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Payload payload;

    final GuestMemory memory;
    final InterpVm vm;
    final InterpVcpu vcpu;
    final PayloadHarness harness = new PayloadHarness();
    private final InstructionClock clock;

    private SnapshotRig(GuestMemory memory, InstructionClock clock) throws EngineException {
        this.memory = memory;
        this.clock = clock;
        this.vm = new InterpVm(memory, clock);
        this.vcpu = (InterpVcpu) vm.createVcpu(0);
        clock.vcpu = vcpu;
    }

    static synchronized Payload payload() {
        if (payload == null) {
            payload = PayloadAssembler.assemble("interp-snapshot", LongModeSandbox.PAYLOAD);
        }
        return payload;
    }

    /** A machine about to run the payload's first instruction, with its interrupt handlers installed. */
    static SnapshotRig started() throws EngineException, NativeException {
        SnapshotRig rig = new SnapshotRig(newMemory(), new InstructionClock());
        LongModeSandbox.enter(rig.vcpu, rig.memory, payload(), Ring.KERNEL, true);
        LongModeSandbox.setInterruptGate(rig.memory, TIMER_VECTOR, payload().symbol("timer_handler"));
        LongModeSandbox.setInterruptGate(rig.memory, PIT_VECTOR, payload().symbol("pit_handler"));
        return rig;
    }

    /**
     * A fresh machine over a copy of {@code memoryImage}, restored from {@code snapshot} (as
     * {@link #snapshot()} makes it); the VM's state first or the vCPU's, as the VMM may do either.
     */
    static SnapshotRig restored(byte[] memoryImage, JsonNode snapshot, boolean vmFirst)
            throws EngineException, NativeException, SnapshotException {
        SnapshotRig rig = new SnapshotRig(newMemory(), new InstructionClock());
        rig.memory.write(0, memoryImage);
        rig.restore(snapshot, vmFirst);
        return rig;
    }

    /** A fresh machine over a copy of {@code memoryImage} that is not restored yet. */
    static SnapshotRig fresh(byte[] memoryImage, long instructionBudget) throws EngineException, NativeException {
        InstructionClock clock = new InstructionClock();
        clock.budget = instructionBudget;
        SnapshotRig rig = new SnapshotRig(newMemory(), clock);
        rig.memory.write(0, memoryImage);
        return rig;
    }

    void restore(JsonNode snapshot, boolean vmFirst) throws EngineException, SnapshotException {
        StateReader root = StateReader.of(snapshot);
        if (vmFirst) {
            vm.restoreState(root.child("vm"));
            vcpu.restoreState(root.child("vcpu"));
        } else {
            vcpu.restoreState(root.child("vcpu"));
            vm.restoreState(root.child("vm"));
        }
    }

    private static GuestMemory newMemory() throws NativeException {
        return GuestMemory.allocate(List.of(new GuestMemory.Range(0, LongModeSandbox.MIN_MEMORY)));
    }

    /**
     * The vCPU's and the VM's state as {@code {vcpu: ..., vm: ...}}, written to JSON text and parsed back,
     * as a snapshot file would carry it.
     */
    JsonNode snapshot() throws EngineException, IOException {
        StateWriter root = StateWriter.root();
        vcpu.saveState(root.child("vcpu"));
        vm.saveState(root.child("vm"));
        return JSON.readTree(JSON.writeValueAsString(root.tree()));
    }

    byte[] memoryImage() {
        return memory.readBytes(0, (int) LongModeSandbox.MIN_MEMORY);
    }

    /** The guest's VM time now. */
    long vmTime() {
        return vcpu.platform().clock().nanos();
    }

    /**
     * Runs, dispatching port I/O to the harness, until the payload writes one of {@code stopPorts} (that
     * exit) or the run is interrupted ({@link VcpuExit.Interrupted}); any other exit is returned too.
     */
    VcpuExit runUntil(int... stopPorts) throws EngineException {
        while (true) {
            VcpuExit exit = vcpu.run();
            switch (exit) {
                case VcpuExit.IoOut out when Arrays.stream(stopPorts).anyMatch(port -> port == out.port()) -> {
                    return exit;
                }
                case VcpuExit.IoOut out -> harness.pio.write(out.port(), out.data());
                case VcpuExit.IoIn in -> harness.pio.read(in.port(), in.data());
                default -> {
                    return exit;
                }
            }
        }
    }

    @Override
    public void close() {
        vcpu.close();
        vm.close();
        memory.close();
    }

    /**
     * VM time as the vCPU's instruction count times {@link #NANOS_PER_INSTRUCTION}. With a budget it also
     * asks the vCPU to stop once it has run that many instructions or looked at the clock
     * {@link #MAX_LOOKS} times (a halted guest looks without running): a bounded run for guests in
     * unknown states.
     */
    private static final class InstructionClock implements VmClock {
        private static final int MAX_LOOKS = 10_000;
        InterpVcpu vcpu;
        long budget = Long.MAX_VALUE;
        private int looks;

        @Override
        public long nanos() {
            if (vcpu == null) {
                return 0;
            }
            long executed = vcpu.instructions();
            if (budget != Long.MAX_VALUE && (executed >= budget || ++looks > MAX_LOOKS)) {
                vcpu.requestExit();
            }
            return executed * NANOS_PER_INSTRUCTION;
        }
    }
}
