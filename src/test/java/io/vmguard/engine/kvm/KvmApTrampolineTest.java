package io.vmguard.engine.kvm;

import io.vmguard.testing.ApTrampolineRun;
import io.vmguard.testing.PayloadMachine;
import org.junit.jupiter.api.Test;

/** The startup-IPI-to-long-mode payload the interpreter runs in ApTrampolineTest, natively under KVM. */
class KvmApTrampolineTest {
    @Test
    void startupIpiStateWalksToLongModeAsLinuxTrampolineDoes() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            ApTrampolineRun.runAndCheck(machine);
        }
    }
}
