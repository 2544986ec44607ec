package io.vmguard.vmm;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.engine.kvm.KvmEngine;
import java.util.List;

/** The engines vmguard knows by name, and the choice made when the user names none. */
public final class Engines {
    public static final List<String> NAMES = List.of("interp", "kvm");
    /** The interpreter: it needs nothing but a JDK, so it runs everywhere. */
    public static final String DEFAULT = "interp";

    private Engines() {}

    public static Engine create(String name) throws EngineException {
        return switch (name) {
            case "kvm" -> new KvmEngine();
            case "interp" -> new InterpEngine();
            default -> throw new EngineException("unknown engine '" + name + "' (choose one of " + String.join(", ", NAMES) + ")");
        };
    }
}
