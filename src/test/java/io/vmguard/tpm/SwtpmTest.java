package io.vmguard.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Debian's swtpm as vmguard runs it: manufactured on first use, measured, saved and restored, never orphaned. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SwtpmTest {
    @TempDir
    Path dir;

    @Test
    void aMeasuredBootLeavesThePcrsItsEventLogReplaysTo() throws Exception {
        Path kernel = Files.write(dir.resolve("kernel"), "not really a kernel".getBytes(StandardCharsets.US_ASCII));
        Path initrd = Files.write(dir.resolve("initrd"), new byte[70_000]);
        EventLog log = MeasuredBoot.plan(kernel, initrd, "console=ttyS0 quiet");
        try (Swtpm tpm = Swtpm.start(dir.resolve("state"))) {
            tpm.powerOn();
            MeasuredBoot.perform(tpm::execute, log);
            byte[][] expected = log.replay();
            List<byte[]> pcrs = TpmCodec.pcrValues(tpm.execute(TpmCodec.pcrRead(List.of(0, 1, 7, 8, 9, 10))));
            assertEquals(6, pcrs.size());
            int[] order = {0, 1, 7, 8, 9, 10};
            for (int i = 0; i < order.length; i++) {
                assertArrayEquals(expected[order[i]], pcrs.get(i), "PCR " + order[i]);
            }
            assertArrayEquals(new byte[32], pcrs.get(5), "PCR 10 is nobody's");
            assertNotEquals(0, pcrs.get(4)[0] | pcrs.get(4)[1] | pcrs.get(4)[2], "PCR 9 was extended");
        }
    }

    @Test
    void theStateDirectoryIsManufacturedOnceAndKeepsItsSeeds() throws Exception {
        Path state = dir.resolve("state");
        try (Swtpm tpm = Swtpm.start(state)) {
            tpm.powerOn();
        }
        assertTrue(Files.exists(state.resolve("tpm2-00.permall")));
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
    }

    @Test
    void saveAndRestoreCarryThePcrsIntoAFreshSwtpmWithoutAStartup() throws Exception {
        EventLog log = MeasuredBoot.plan(Files.write(dir.resolve("k"), new byte[] {1, 2, 3}), null, "x");
        TpmState saved;
        byte[] pcr9;
        try (Swtpm tpm = Swtpm.start(dir.resolve("a"))) {
            tpm.powerOn();
            MeasuredBoot.perform(tpm::execute, log);
            pcr9 = TpmCodec.pcrValues(tpm.execute(TpmCodec.pcrRead(List.of(9)))).getFirst();
            saved = tpm.saveState();
        }
        try (Swtpm fresh = Swtpm.start(dir.resolve("b"))) {
            fresh.restoreState(saved);
            assertArrayEquals(pcr9, TpmCodec.pcrValues(fresh.execute(TpmCodec.pcrRead(List.of(9)))).getFirst());
            assertEquals(0x100, TpmCodec.responseCode(fresh.execute(TpmCodec.startupClear())),
                    "the restored TPM is running: a second Startup is TPM_RC_INITIALIZE");
        }
    }

    @Test
    void swtpmEndsWithItsOwner() throws Exception {
        ProcessHandle process;
        try (Swtpm tpm = Swtpm.start(dir.resolve("state"))) {
            process = ProcessHandle.of(tpm.pid()).orElseThrow();
            assertTrue(process.isAlive());
        }
        process.onExit().get(5, TimeUnit.SECONDS);
        assertFalse(process.isAlive());
    }

    @Test
    void aGuestCannotReachThePlatformHierarchyAfterTheMeasuredBoot() throws Exception {
        try (Swtpm tpm = Swtpm.start(dir.resolve("state"))) {
            tpm.powerOn();
            MeasuredBoot.perform(tpm::execute, new EventLog());
            int code = TpmCodec.responseCode(tpm.execute(TpmCodec.disablePlatformHierarchy()));
            assertNotEquals(TpmCodec.RC_SUCCESS, code, "platform commands fail once it is disabled");
        }
    }

    @Test
    void withoutSwtpmInstalledTheErrorIsOneLineNamingThePackages() throws Exception {
        Path empty = Files.createDirectory(dir.resolve("bin"));
        TpmException e = assertThrows(TpmException.class, () -> Swtpm.start(dir.resolve("state"), empty.toString()));
        assertTrue(e.getMessage().contains("apt-get install swtpm swtpm-tools"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("state")), "nothing made before the check");
    }

    @Test
    void aStateDirectoryOtherUsersMayEnterIsRefused() throws Exception {
        Path open = Files.createDirectory(dir.resolve("open"), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x")));
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        TpmException e = assertThrows(TpmException.class, () -> Swtpm.start(open));
        assertTrue(e.getMessage().contains("chmod 700"), e.getMessage());
        assertFalse(Files.exists(open.resolve("tpm2-00.permall")), "nothing manufactured there");
    }

    @Test
    void aMissingStateDirectoryParentIsAOneLineError() {
        TpmException e = assertThrows(TpmException.class, () -> Swtpm.start(Path.of("/proc/no-such/tpm")));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
