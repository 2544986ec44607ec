package io.vmguard.seal;

import static io.vmguard.seal.SealTestValues.AUTH;
import static io.vmguard.seal.SealTestValues.PCRS_0_7;
import static io.vmguard.seal.SealTestValues.digest;
import static io.vmguard.seal.SealTestValues.freshKey;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data key bound to PCRs of the owner's sealing TPM (a real swtpm, powered for each use): it unseals while
 * those PCRs hold what they held at sealing, across power cycles, and not once one of them is extended, nor
 * with another authorisation value, nor through a password session.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class PcrPolicySealTest {
    @TempDir
    Path dir;

    @Test
    void aKeyBoundToPcrsUnsealsWhileTheyAreUnchangedAndNotOnceOneIsExtended() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), AUTH, PCRS_0_7);
        owner.extend(7, digest("host booted as the owner expects")); // PCRs that are not all zeros, kept across power cycles
        byte[] key = freshKey();
        SealedKey sealed = owner.seal(key);
        assertEquals(PCRS_0_7, sealed.pcrs());
        assertArrayEquals(key, owner.unseal(sealed), "the key does not unseal with its PCRs unchanged");
        assertArrayEquals(key, owner.unseal(sealed), "a second power cycle lost the PCRs");

        owner.extend(7, digest("something else ran"));
        SealException e = assertThrows(SealException.class, () -> owner.unseal(sealed));
        assertTrue(e.getMessage().contains("PCRs [0, 7] differ"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    }

    @Test
    void aKeyBoundToPcrsAndAnAuthorisationValueNeedsTheValueToo() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), AUTH, PCRS_0_7);
        SealedKey sealed = owner.seal(freshKey());
        SealException e = assertThrows(SealException.class,
                () -> new SealingTpm(dir.resolve("owner-tpm"), "guess".getBytes(StandardCharsets.US_ASCII), PCRS_0_7).unseal(sealed));
        assertTrue(e.getMessage().contains("authorisation value"), e.getMessage());
    }

    @Test
    void theSessionsHmacWorksForAnEmptyValueAndForOneEndingInZeros() throws Exception {
        for (byte[] auth : new byte[][] {new byte[0], {7, 1, 0, 0}}) {
            SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), auth, PCRS_0_7);
            byte[] key = freshKey();
            assertArrayEquals(key, owner.unseal(owner.seal(key)), auth.length + "-byte value");
        }
        SealedKey sealed = new SealingTpm(dir.resolve("owner-tpm"), new byte[] {7, 1, 0, 0}, PCRS_0_7).seal(freshKey());
        assertThrows(SealException.class, () -> new SealingTpm(dir.resolve("owner-tpm"), new byte[] {7, 2}, PCRS_0_7).unseal(sealed));
    }

    @Test
    void aPolicyBoundKeyCannotBeUnsealedWithTheAuthorisationValueAlone() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), AUTH, PCRS_0_7);
        SealedKey sealed = owner.seal(freshKey());
        // The same TPM parts with the header's PCR mask cleared: vmguard then tries an HMAC session, which the object refuses.
        SealedKey stripped = new SealedKey(sealed.privatePart(), sealed.publicPart(), 0);
        assertThrows(SealException.class, () -> owner.unseal(stripped));
        // Another selection gives another policy digest.
        SealedKey other = new SealedKey(sealed.privatePart(), sealed.publicPart(), PcrSelection.parse("0"));
        SealException e = assertThrows(SealException.class, () -> owner.unseal(other));
        assertTrue(e.getMessage().contains("differ"), e.getMessage());
    }

    @Test
    void aKeyWithoutPcrsIgnoresThem() throws Exception {
        SealingTpm owner = new SealingTpm(dir.resolve("owner-tpm"), AUTH);
        byte[] key = freshKey();
        SealedKey sealed = owner.seal(key);
        owner.extend(7, digest("anything"));
        assertArrayEquals(key, owner.unseal(sealed));
    }

    @Test
    void theSelectionParsesAndRefusesWhatCannotBindAKey() {
        assertEquals(0x81, PcrSelection.parse("0,7"));
        assertEquals(0, PcrSelection.parse(""));
        assertEquals(List.of(0, 7), PcrSelection.pcrs(0x81));
        assertThrows(IllegalArgumentException.class, () -> PcrSelection.parse("16"));
        assertThrows(IllegalArgumentException.class, () -> PcrSelection.parse("seven"));
    }
}
