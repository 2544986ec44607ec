package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.events.VmEvents;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What a VM's protections refuse before anything is built. */
class GuestProtectionTest {
    /** An engine named as KVM that must never be asked for a VM: the refusal comes first. */
    private static final Engine KVM = new Engine() {
        @Override
        public String name() {
            return "kvm";
        }

        @Override
        public VirtualMachine createVm(GuestMemory memory) throws EngineException {
            throw new AssertionError("the VM was built");
        }
    };

    @Test
    void secretMemoryWithKvmIsRefusedInOneLineNamingWhy() {
        VmConfig config = new VmConfig(Path.of("/nonexistent/vmlinux"), null, "console=ttyS0", 64L << 20, "kvm", new SerialTarget.Null());
        VmException e = assertThrows(VmException.class, () -> Vm.create(config, KVM, VmEvents.none(),
                new GuestProtection(Optional.empty(), MemoryBackend.SECRET)));
        assertTrue(e.getMessage().contains("interpreter only") && e.getMessage().contains("get_user_pages"), e.getMessage());
        assertTrue(e.getMessage().lines().count() == 1);
    }
}
