package io.vmguard.seal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.snapshot.Phases;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A snapshot's data key sealed on its own thread: the owner's TPM unseals what it sealed, failures stay one line, the key is wiped. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class PendingDataKeyTest {
    private static final byte[] AUTH = "owner's secret".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void theKeySealedOnItsOwnThreadIsTheKeyTheOwnersTpmUnsealsAndCloseWipesIt() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), AUTH);
        Phases phases = new Phases();
        PendingDataKey pending;
        try (Phases.Binding _ = phases.record()) {
            pending = PendingDataKey.start(owner);
        }
        byte[] key = pending.key().clone();
        assertEquals(SealingTpm.KEY_BYTES, key.length);
        assertFalse(java.util.Arrays.equals(new byte[key.length], key), "a random key");
        SealedKey sealed = pending.sealedKey();
        assertArrayEquals(key, owner.unseal(sealed));
        pending.close();
        assertArrayEquals(new byte[key.length], pending.key(), "the key is wiped on close");
        assertTrue(phases.seconds().containsKey("save.key_seal"), "the seal's phases reach the caller's recorder: " + phases.seconds());
    }

    @Test
    void aTpmThatCannotSealFailsTheWaitInOneLine() throws Exception {
        Path open = Files.createDirectory(dir.resolve("open-tpm"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x")); // swtpm refuses to start there
        try (PendingDataKey pending = PendingDataKey.start(new SealingTpm(open, AUTH))) {
            SealException e = assertThrows(SealException.class, pending::sealedKey);
            assertTrue(e.getMessage().contains("chmod 700") && e.getMessage().lines().count() == 1, e.getMessage());
        }
    }
}
