package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.PayloadMachine;
import java.nio.file.Files;

/** KVM payload machines, and the check that skips tests on hosts without KVM. */
final class KvmTestMachine {
    private KvmTestMachine() {}

    /** Skips the calling test, saying why, unless /dev/kvm exists and opens read-write. */
    static void assumeKvm() {
        assumeTrue(Files.exists(KvmEngine.DEFAULT_DEVICE), "/dev/kvm is absent: this host has no KVM");
        try {
            Libc.close(Libc.open(KvmEngine.DEFAULT_DEVICE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC));
        } catch (NativeException e) {
            assumeTrue(false, "/dev/kvm cannot be opened: " + e.getMessage());
        }
    }

    static PayloadMachine create() throws EngineException, NativeException {
        assumeKvm();
        return PayloadMachine.create(new KvmEngine());
    }

    static PayloadMachine start(String payload, LongModeSandbox.Ring ring, boolean interruptsEnabled)
            throws EngineException, NativeException {
        assumeKvm();
        return PayloadMachine.start(new KvmEngine(), payload, ring, interruptsEnabled);
    }
}
