package io.vmguard.engine.interp;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.interp.platform.Doorbell;
import io.vmguard.engine.interp.platform.InterruptInputs;
import io.vmguard.engine.interp.platform.VmClock;
import io.vmguard.memory.GuestMemory;

/**
 * A VM of the interpreter engine: one vCPU, with the PC platform (PIC, I/O APIC, local APIC, PIT,
 * kvmclock) inside the engine as KVM's in-kernel irqchip would be.
 *
 * <p>Interrupt lines may be driven from any thread (a UART's input thread, a test): they land in
 * {@link InterruptInputs}, which rings the vCPU's {@link Doorbell}, and the vCPU thread hands them to
 * its interrupt controllers at its next look, waking from HLT if need be.
 */
final class InterpVm implements VirtualMachine {
    private final GuestMemory memory;
    private final UnimplementedLog unimplemented = new UnimplementedLog();
    private final VmClock clock = VmClock.system();
    private final Doorbell doorbell = new Doorbell();
    private final InterruptInputs inputs = new InterruptInputs(doorbell::ring);
    private final InterruptLine[] lines = new InterruptLine[InterruptInputs.COUNT];
    private boolean vcpuCreated;

    InterpVm(GuestMemory memory) {
        this.memory = memory;
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
        if (vcpuCreated) {
            throw new EngineException("vCPU 0 exists already");
        }
        vcpuCreated = true;
        return new InterpVcpu(index, memory, unimplemented, clock, inputs, doorbell);
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
    public void close() {
    }
}
