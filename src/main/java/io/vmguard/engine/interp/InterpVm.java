package io.vmguard.engine.interp;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.interp.platform.Doorbell;
import io.vmguard.engine.interp.platform.InterruptInputs;
import io.vmguard.engine.interp.platform.Platform;
import io.vmguard.engine.interp.platform.RestorableClock;
import io.vmguard.engine.interp.platform.SnapshotFields;
import io.vmguard.engine.interp.platform.VmClock;
import io.vmguard.memory.GuestMemory;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * A VM of the interpreter engine: one vCPU, with the PC platform (PIC, I/O APIC, local APIC, PIT,
 * kvmclock) inside the engine as KVM's in-kernel irqchip would be.
 *
 * <p>Interrupt lines may be driven from any thread (a UART's input thread, a test): they land in
 * {@link InterruptInputs}, which rings the vCPU's {@link Doorbell}, and the vCPU thread hands them to
 * its interrupt controllers at its next look, waking from HLT if need be.
 *
 * <p><b>Snapshots.</b> The VM's tree is {@code {engine: "interp", vm_time_nanos, platform, interrupt_inputs}}:
 * the VM time the snapshot stands for, the platform's devices ({@link Platform#saveState}, timer instants
 * relative to that time) and the interrupt lines' hand-over. A restored VM's clock continues from
 * {@code vm_time_nanos}, so the guest's TSC, kvmclock and timers carry on where they were, in this process
 * or another, and never run backwards.
 */
final class InterpVm implements VirtualMachine {
    private final GuestMemory memory;
    private final UnimplementedLog unimplemented = new UnimplementedLog();
    private final RestorableClock clock;
    private final Doorbell doorbell = new Doorbell();
    private final InterruptInputs inputs = new InterruptInputs(doorbell::ring);
    private final InterruptLine[] lines = new InterruptLine[InterruptInputs.COUNT];
    private InterpVcpu vcpu;
    private final InterpMonitoring monitoring = new InterpMonitoring(doorbell::ring);
    private final DeviceWrites deviceWrites;

    InterpVm(GuestMemory memory) {
        this(memory, VmClock.system());
    }

    /** A VM whose time runs with {@code timeSource} (host time; tests drive their own). */
    InterpVm(GuestMemory memory, VmClock timeSource) {
        this.memory = memory;
        this.clock = new RestorableClock(timeSource);
        this.deviceWrites = new DeviceWrites(memory.end());
        for (int gsi = 0; gsi < lines.length; gsi++) {
            int line = gsi;
            lines[gsi] = asserted -> inputs.set(line, asserted);
        }
    }

    @Override
    public synchronized Vcpu createVcpu(int index) throws EngineException {
        if (index != 0) {
            throw new EngineException("the interpreter runs one vCPU for now");
        }
        if (vcpu != null) {
            throw new EngineException("vCPU 0 exists already");
        }
        vcpu = new InterpVcpu(index, memory, unimplemented, clock, inputs, doorbell, monitoring, deviceWrites);
        return vcpu;
    }

    @Override
    public java.util.Optional<io.vmguard.engine.monitor.Monitoring> monitoring() {
        return java.util.Optional.of(monitoring);
    }

    /**
     * Marks the frames for the vCPU, which drops their decoded code before its next block; the next execution
     * from them decodes again (and asks an armed code-execution listener again).
     */
    @Override
    public void guestMemoryWriteBegins(long address, long length) {
        deviceWrites.begin(address, length);
    }

    @Override
    public void guestMemoryWriteEnds(long address, long length) {
        deviceWrites.end(address, length);
    }

    /** GSIs 0-15 reach the PIC and the I/O APIC, 16-23 the I/O APIC only. */
    @Override
    public InterruptLine interruptLine(int gsi) {
        if (gsi < 0 || gsi >= lines.length) {
            throw new IllegalArgumentException("no interrupt line " + gsi + " (0-" + (lines.length - 1) + ")");
        }
        return lines[gsi];
    }

    /** Handed to the vCPU thread like a line change; {@link InterruptInputs} drops non-interrupt addresses. */
    @Override
    public void signalMsi(long address, int data) {
        inputs.signalMsi(address, data);
    }

    @Override
    public synchronized void saveState(StateWriter out) throws EngineException {
        Platform platform = platform();
        long now = clock.nanos();
        InterpEngine.markSnapshot(out);
        out.putLong("vm_time_nanos", now);
        platform.saveState(out.child("platform"), now);
        out.save("interrupt_inputs", inputs);
    }

    /**
     * Restores what {@link #saveState} wrote: all of it or, on a SnapshotException, none of it (everything
     * is checked against scratch parts before the clock or any device changes).
     */
    @Override
    public synchronized void restoreState(StateReader in) throws EngineException, SnapshotException {
        Platform platform = platform();
        InterpEngine.checkSnapshot(in);
        long savedTime = in.getLong("vm_time_nanos", 0, SnapshotFields.TIME_LIMIT);
        StateReader platformState = in.child("platform");
        StateReader inputsState = in.child("interrupt_inputs");
        platform.checkState(platformState, savedTime);
        new InterruptInputs(() -> { }).restoreState(inputsState);

        clock.continueFrom(savedTime);
        platform.restoreState(platformState, savedTime);
        inputs.restoreState(inputsState);
    }

    /** The platform lives with vCPU 0, the CPU its local APIC belongs to. */
    private Platform platform() throws EngineException {
        if (vcpu == null) {
            throw new EngineException("the interpreter's platform comes with vCPU 0: create it before a snapshot or restore");
        }
        return vcpu.platform();
    }

    @Override
    public void close() {
    }
}
