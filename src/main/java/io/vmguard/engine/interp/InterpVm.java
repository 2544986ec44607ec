package io.vmguard.engine.interp;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;

/** A VM of the interpreter engine. */
final class InterpVm implements VirtualMachine {
    private final GuestMemory memory;
    private final UnimplementedLog unimplemented = new UnimplementedLog();
    private final boolean[] lines = new boolean[24];

    InterpVm(GuestMemory memory) {
        this.memory = memory;
    }

    @Override
    public Vcpu createVcpu(int index) throws EngineException {
        if (index != 0) {
            throw new EngineException("the interpreter runs one vCPU for now");
        }
        return new InterpVcpu(index, memory, unimplemented);
    }

    /**
     * Interrupt inputs. The interpreter's interrupt controllers (PIC, I/O APIC, local APIC) are not
     * modelled yet: the line's level is recorded, nothing is delivered.
     */
    @Override
    public InterruptLine interruptLine(int gsi) {
        if (gsi < 0 || gsi >= lines.length) {
            throw new IllegalArgumentException("no interrupt line " + gsi);
        }
        return asserted -> lines[gsi] = asserted;
    }

    @Override
    public void close() {
    }
}
