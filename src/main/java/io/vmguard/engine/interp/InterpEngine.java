package io.vmguard.engine.interp;

import io.vmguard.engine.Engine;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.interp.platform.SnapshotFields;
import io.vmguard.memory.GuestMemory;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/** The pure-Java x86-64 interpreter engine: needs nothing but a JDK. */
public final class InterpEngine implements Engine {
    static final String NAME = "interp";

    private final JitOptions jit;

    /** The JIT as the system properties say ({@link JitOptions#fromSystemProperties()}). */
    public InterpEngine() {
        this(JitOptions.fromSystemProperties());
    }

    public InterpEngine(JitOptions jit) {
        this.jit = jit;
    }

    @Override
    public String name() {
        return NAME;
    }

    /**
     * Marks a vCPU or platform tree as the interpreter's ({@code "engine": "interp"}): the layouts are the
     * engine's own, and a KVM tree handed to the interpreter must fail at once, not field by field.
     */
    static void markSnapshot(StateWriter out) {
        out.putString("engine", NAME);
    }

    static void checkSnapshot(StateReader in) throws SnapshotException {
        String engine = in.getString("engine");
        if (!engine.equals(NAME)) {
            throw SnapshotFields.invalid(in, "engine", "\"" + engine + "\": this state is another engine's, not the interpreter's");
        }
    }

    @Override
    public VirtualMachine createVm(GuestMemory memory) {
        return new InterpVm(memory, io.vmguard.engine.interp.platform.VmClock.system(), jit);
    }
}
