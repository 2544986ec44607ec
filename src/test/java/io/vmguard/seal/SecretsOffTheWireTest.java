package io.vmguard.seal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.ByteSearch;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data key and the authorisation value never cross the owner's swtpm socket in clear: every command and
 * response of a seal and an unseal is recorded as it passes, and neither secret is anywhere in them, for a
 * key bound to the value alone (salted HMAC session) and one bound to PCRs too (salted policy session). The
 * recording is checked to hold the successful TPM2_Create and TPM2_Unseal, so the test cannot pass by
 * recording nothing.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class SecretsOffTheWireTest {
    private static final int CC_UNSEAL = 0x15e;
    private static final int CC_CREATE = 0x153;
    private static final byte[] AUTH = "the owner's rather long secret!!".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    @Test
    void aKeyBoundToTheValueAloneComesBackEncrypted() throws Exception {
        assertNeitherSecretOnTheWire(new SealingTpm(dir.resolve("owner-tpm"), AUTH));
    }

    @Test
    void aKeyBoundToPcrsComesBackEncrypted() throws Exception {
        assertNeitherSecretOnTheWire(new SealingTpm(dir.resolve("owner-tpm"), AUTH, PcrSelection.parse("0,7")));
    }

    private static void assertNeitherSecretOnTheWire(SealingTpm owner) throws Exception {
        byte[] key = new byte[SealingTpm.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        int[] creates = {0};
        int[] unseals = {0};
        SealingTpm tapped = owner.tapped((command, response) -> {
            wire.writeBytes(command);
            wire.writeBytes(response);
            boolean succeeded = response.length > 10 && ByteBuffer.wrap(response).getInt(6) == 0;
            int code = command.length >= 10 ? ByteBuffer.wrap(command).getInt(6) : 0;
            if (succeeded && code == CC_CREATE) {
                creates[0]++;
            }
            if (succeeded && code == CC_UNSEAL) {
                unseals[0]++;
            }
        });
        SealedKey sealed = tapped.seal(key);
        assertArrayEquals(key, tapped.unseal(sealed), "the key did not come back");
        byte[] recorded = wire.toByteArray();
        assertEquals(1, creates[0], "the recording holds no successful TPM2_Create: it proves nothing");
        assertEquals(1, unseals[0], "the recording holds no successful TPM2_Unseal: it proves nothing");
        assertTrue(ByteSearch.count(recorded, sealed.publicPart()) > 0, "the recording lacks the sealed object's public part");
        assertEquals(0, ByteSearch.count(recorded, key), "the data key crossed the socket in clear");
        assertEquals(0, ByteSearch.count(recorded, AUTH), "the authorisation value crossed the socket in clear");
    }
}
