package io.vmguard.engine.interp;

import io.vmguard.engine.Engine;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;

/** The pure-Java x86-64 interpreter engine: needs nothing but a JDK. */
public final class InterpEngine implements Engine {
    @Override
    public String name() {
        return "interp";
    }

    @Override
    public VirtualMachine createVm(GuestMemory memory) {
        return new InterpVm(memory);
    }
}
