package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.InitramfsOverlay;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/** A booted Linux guest reads fw_cfg through /dev/port (guest/initramfs/scripts/fw-cfg), as a test kernel would. */
@Timeout(value = 3, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpFwCfgGuestTest {
    private static final String SCRIPT = "fw-cfg";

    @TempDir
    Path dir;

    @Test
    void theGuestReadsTheSignatureItsRamSizeAndItsCpuCount() throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(Path.of("guest/initramfs/scripts", SCRIPT))),
                dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        long ram = 192L << 20;
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT, ram, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            assertEquals(new RunOutcome.PoweredOff(0), vm.run(), console.text());
        }
        String text = console.text();
        assertTrue(text.contains("FWCFG-SIGNATURE 81 69 77 85"), "\"QEMU\": " + text);
        StringBuilder ramBytes = new StringBuilder("FWCFG-RAM");
        for (int i = 0; i < 8; i++) {
            ramBytes.append(' ').append((ram >>> (8 * i)) & 0xff);
        }
        assertTrue(text.contains(ramBytes), ramBytes + " in " + text);
        assertTrue(text.contains("FWCFG-CPUS 1 0"), text);
    }
}
