package io.vmguard.vmm;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.kvm.KvmEngine;
import java.util.List;

/** The engines vmguard knows by name, and the choice made when the user names none. */
public final class Engines {
    public static final List<String> NAMES = List.of("kvm", "interp");

    private Engines() {}

    public static Engine create(String name) throws EngineException {
        return switch (name) {
            case "kvm" -> new KvmEngine();
            case "interp" -> throw new EngineException(
                    "the interpreter engine is not available yet; use --engine kvm on a host with hardware virtualization");
            default -> throw new EngineException("unknown engine '" + name + "' (choose one of " + String.join(", ", NAMES) + ")");
        };
    }
}
