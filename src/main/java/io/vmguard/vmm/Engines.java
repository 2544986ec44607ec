package io.vmguard.vmm;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.kvm.KvmEngine;
import java.util.List;

/** The engines vmguard knows by name, and the choice made when the user names none. */
public final class Engines {
    public static final List<String> NAMES = List.of("interp", "kvm");
    /** The interpreter: it needs nothing but a JDK, so it runs everywhere. */
    public static final String DEFAULT = "interp";

    private Engines() {}

    public static Engine create(String name) throws EngineException {
        return create(name, null);
    }

    /**
     * The engine {@code name}; for the interpreter, with its JIT on or off ({@code jit}; null: the default,
     * {@link JitOptions#fromSystemProperties()}). The KVM engine has no JIT of vmguard's: {@code jit} is ignored.
     */
    public static Engine create(String name, Boolean jit) throws EngineException {
        return switch (name) {
            case "kvm" -> new KvmEngine();
            case "interp" -> {
                try {
                    yield new InterpEngine(jit == null ? JitOptions.fromSystemProperties() : JitOptions.withEnabled(jit));
                } catch (IllegalArgumentException e) {
                    throw new EngineException(e.getMessage()); // a malformed vmguard.jit.* system property
                }
            }
            default -> throw new EngineException("unknown engine '" + name + "' (choose one of " + String.join(", ", NAMES) + ")");
        };
    }
}
