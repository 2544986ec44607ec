package io.vmguard.seal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.snapshot.Phases;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The owner's TPM kept on standby (as {@code vmguard serve --seal} keeps it): each use finds a swtpm started
 * and takes it, the next one is started behind it, and a standby that dies (or is killed) before a use loses
 * nothing, because it never powered the TPM on: PCR-bound keys still unseal, and the use starts a swtpm afresh.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class OwnerTpmStandbyTest {
    private static final byte[] AUTH = "owner's secret".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private List<ProcessHandle> standbys(Path state) {
        return ProcessHandle.current().children()
                .filter(p -> p.isAlive() && p.info().commandLine().orElse("").contains("dir=" + state.toAbsolutePath()))
                .toList();
    }

    private List<ProcessHandle> awaitStandbys(Path state, int count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        List<ProcessHandle> found = standbys(state);
        while (found.size() != count && System.nanoTime() < deadline) {
            Thread.sleep(20);
            found = standbys(state);
        }
        return found;
    }

    @Test
    void eachUseTakesTheStandbyAKilledStandbyLosesNothingAndClosingLeavesNoSwtpm() throws Exception {
        Path state = dir.resolve("owner-tpm");
        SealingTpm owner = new SealingTpm(state, AUTH, PcrSelection.parse("7"));
        owner.extend(7, MessageDigest.getInstance("SHA-256").digest("the host as the owner expects".getBytes(StandardCharsets.US_ASCII)));
        owner.keepStandby();
        assertEquals(1, awaitStandbys(state, 1).size(), "no swtpm on standby");

        byte[] key = new byte[SealingTpm.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        Phases sealing = new Phases();
        SealedKey sealed;
        try (Phases.Binding _ = sealing.record()) {
            sealed = owner.seal(key);
        }
        assertTrue(sealing.seconds().containsKey("tpm.startup"), sealing.seconds().toString());
        List<ProcessHandle> next = awaitStandbys(state, 1);
        assertEquals(1, next.size(), "the use did not leave exactly one swtpm on standby: " + next);

        // A standby that dies while it waits: the unseal starts one afresh, and the PCRs were never reset.
        next.getFirst().destroyForcibly();
        next.getFirst().onExit().get(10, TimeUnit.SECONDS);
        assertArrayEquals(key, owner.unseal(sealed), "a killed standby cost the PCR-bound key");
        assertArrayEquals(key, owner.unseal(sealed), "the standby after a use does not unseal");

        owner.extend(7, new byte[32]);
        SealException changed = assertThrows(SealException.class, () -> owner.unseal(sealed));
        assertTrue(changed.getMessage().contains("PCRs [7] differ"), changed.getMessage());
        assertEquals(1, changed.getMessage().lines().count());

        owner.closeStandby();
        assertEquals(0, awaitStandbys(state, 0).size(), "a swtpm outlived the standby's close");
    }

    @Test
    void aPrestartNoUseTookIsDropped() throws Exception {
        Path state = dir.resolve("owner-tpm");
        SealingTpm owner = new SealingTpm(state, AUTH);
        owner.prestart();
        assertEquals(1, awaitStandbys(state, 1).size(), "prestart started no swtpm");
        owner.dropPrestarted();
        assertEquals(0, awaitStandbys(state, 0).size(), "the dropped swtpm still runs");
        byte[] key = new byte[SealingTpm.KEY_BYTES];
        assertArrayEquals(key, owner.unseal(owner.seal(key)));
        assertEquals(0, standbys(state).size(), "a use without keepStandby left a swtpm behind");
    }
}
