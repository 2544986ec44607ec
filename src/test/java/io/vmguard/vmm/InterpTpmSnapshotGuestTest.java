package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.VmEvents;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.InitramfsOverlay;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TPM survives a snapshot: a guest that talks to its TPM in rounds (guest/initramfs/scripts/tpm-loop) is
 * snapshotted, its VM and swtpm end, and a VM restored from the files alone (a fresh swtpm given the saved
 * state) answers the guest's next rounds with the PCRs the measured boot left, with no error in between.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpTpmSnapshotGuestTest {
    private static final String SCRIPT = "tpm-loop";
    private static final Pattern ROUND = Pattern.compile("TPM-ROUND (\\d+) status=(\\d+)");
    private static final Pattern PCR9 = Pattern.compile("TPM-PCR 9 ([0-9a-f]{64})");

    @TempDir
    Path dir;

    @Test
    void aRestoredGuestFindsItsTpmWithThePcrsItBootedWith() throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(Path.of("guest/initramfs/scripts", SCRIPT))),
                dir.resolve("initrd.gz"));
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        ConsoleLines original = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd, RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT,
                192L << 20, "interp", new SerialTarget.Streams(InputStream.nullInputStream(), original));
        String pcr9;
        long originalSwtpm;
        try (Vm vm = Vm.create(config, new InterpEngine(), VmEvents.none(), new GuestProtection(Optional.of(new TpmSettings(dir.resolve("tpm"))), MemoryBackend.ANONYMOUS))) {
            originalSwtpm = vm.tpmProcess().orElseThrow();
            vm.start();
            Matcher round = original.await(ROUND, 0, Duration.ofMinutes(3));
            assertEquals("0", round.group(2), original.text());
            original.await(Pattern.compile("TPM-ROUND 3 status=\\d+"), 0, Duration.ofMinutes(1));
            vm.pause();
            vm.snapshot(state, memory);
            Matcher pcr = PCR9.matcher(original.text());
            assertTrue(pcr.find(), original.text());
            pcr9 = pcr.group(1);
            assertNotEquals("0".repeat(64), pcr9);
        }
        assertFalse(ProcessHandle.of(originalSwtpm).map(ProcessHandle::isAlive).orElse(false), "the first swtpm ended with its VM");

        ConsoleLines restored = new ConsoleLines();
        try (Vm vm = Vm.restore(state, memory, new InterpEngine(), RestoreOptions.to(new SerialTarget.Streams(
                InputStream.nullInputStream(), restored)), VmEvents.none())) {
            assertNotEquals(originalSwtpm, vm.tpmProcess().orElseThrow(), "a fresh swtpm");
            vm.resume();
            // Two full rounds after the restore: the first may have begun before the snapshot.
            restored.await(ROUND, 0, Duration.ofMinutes(1));
            int from = restored.length();
            Matcher next = restored.await(ROUND, from, Duration.ofMinutes(1));
            assertEquals("0", next.group(2), restored.text());
            Matcher pcr = PCR9.matcher(restored.text().substring(from));
            assertTrue(pcr.find(), restored.text());
            assertEquals(pcr9, pcr.group(1), "PCR 9 as the measured boot left it");
            assertFalse(restored.text().contains("TPM-ERROR"), restored.text());
            assertFalse(restored.text().contains("VMGUARD-GUEST-READY"), "the guest did not boot again");
        }
    }
}
