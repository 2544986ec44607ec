package io.vmguard.engine.kvm;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import java.nio.file.Path;

/** The KVM engine: guest code runs on the host CPU through /dev/kvm. */
public final class KvmEngine implements Engine {
    public static final Path DEFAULT_DEVICE = Path.of("/dev/kvm");

    private final Path device;

    public KvmEngine() {
        this(DEFAULT_DEVICE);
    }

    /** An engine over another device node (tests point it at paths that are not KVM). */
    public KvmEngine(Path device) {
        this.device = device;
    }

    @Override
    public String name() {
        return "kvm";
    }

    @Override
    public boolean runsGuestCodeNatively() {
        return true;
    }

    /**
     * Opens the device, checks its API version and capabilities, and creates a VM over {@code memory}.
     * The /dev/kvm descriptor is closed again once the VM exists.
     */
    @Override
    public VirtualMachine createVm(GuestMemory memory) throws EngineException {
        try (KvmSystem system = KvmSystem.open(device)) {
            return KvmVm.create(system, memory);
        }
    }
}
