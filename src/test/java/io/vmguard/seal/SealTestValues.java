package io.vmguard.seal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;

/** What the sealing tests share: the owner's authorisation value, a fresh data key, a PCR extend's digest. */
final class SealTestValues {
    static final byte[] AUTH = "owner's secret".getBytes(StandardCharsets.US_ASCII);
    static final int PCRS_0_7 = PcrSelection.parse("0,7");

    private SealTestValues() {}

    static byte[] freshKey() {
        byte[] key = new byte[SealingTpm.KEY_BYTES];
        new SecureRandom().nextBytes(key);
        return key;
    }

    /** SHA-256 of {@code text}: what a PCR is extended with in these tests. */
    static byte[] digest(String text) throws NoSuchAlgorithmException {
        return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.US_ASCII));
    }
}
