package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux takes the RNG seed vmguard hands it in setup_data: its crng is ready while setup_arch runs, before
 * the kernel prints its command line, instead of after virtio-rng's first bytes near the end of the boot.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpRngSeedTest {
    @TempDir
    Path dir;

    @Test
    void theGuestsCrngIsReadyFromTheBootLoadersSeedBeforeItsFirstInitcall() throws Exception {
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=hello", 256L << 20, "interp", new SerialTarget.File(console));
        RunOutcome outcome;
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            outcome = vm.run();
        }
        String log = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, log);
        int ready = log.indexOf("random: crng init done");
        int commandLine = log.indexOf("Kernel command line:");
        assertTrue(ready >= 0 && commandLine >= 0 && ready < commandLine,
                "crng init done should come before the kernel prints its command line\n" + log);
    }
}
