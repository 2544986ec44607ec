package io.vmguard.tpm;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The cryptography of a salted, encrypting TPM 2.0 session (TPM 2.0 Part 1, 11.4.10 and 19.6, Annex C.6),
 * all of it JCA: the salt is agreed by ECDH with the TPM's P-256 storage key (an ephemeral key pair here,
 * KDFe), the session key derived from it and both nonces (KDFa "ATH"), HMACs keyed by session key and
 * authorisation value, and parameters encrypted with AES-128-CFB under a key and IV from KDFa "CFB". With
 * it the owner's secrets (the unsealed data key, the authorisation value) never cross swtpm's socket in
 * clear: an observer of the socket lacks the salt.
 */
public final class SessionCrypto {
    private static final int DIGEST_BITS = 256;
    private static final int P256_BYTES = 32;

    private SessionCrypto() {}

    /** A salt and how to send it: the marshalled TPMS_ECC_POINT of the ephemeral public key (TPM2B_ENCRYPTED_SECRET's contents). */
    public record Salt(byte[] seed, byte[] encryptedSalt) {}

    /**
     * Loads and links what a salted session uses (JCA's EC key generation and ECDH, HMAC, AES-CFB) on a
     * throwaway key, so a server's first restore does not pay for it. Never throws.
     */
    public static void warmUp() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            ECPoint point = ((ECPublicKey) generator.generateKeyPair().getPublic()).getW();
            Salt salt = eccSalt(fixed(point.getAffineX()), fixed(point.getAffineY()));
            byte[] key = sessionKey(salt.seed(), new byte[32], new byte[32]);
            cfb(false, key, new byte[32], new byte[32], new byte[32]);
        } catch (GeneralSecurityException | RuntimeException e) {
            // Only time is lost: the restore that needs it will report any real failure.
        }
    }

    /** Agrees a salt with the TPM key whose public point is ({@code x}, {@code y}) on NIST P-256. */
    public static Salt eccSalt(byte[] x, byte[] y) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair ephemeral = generator.generateKeyPair();
            ECParameterSpec curve = ((ECPublicKey) ephemeral.getPublic()).getParams();
            ECPublicKey tpmKey = (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(
                    new ECPublicKeySpec(new ECPoint(new BigInteger(1, x), new BigInteger(1, y)), curve));
            KeyAgreement agreement = KeyAgreement.getInstance("ECDH");
            agreement.init(ephemeral.getPrivate());
            agreement.doPhase(tpmKey, true);
            byte[] z = agreement.generateSecret(); // the shared point's x coordinate
            ECPoint own = ((ECPublicKey) ephemeral.getPublic()).getW();
            byte[] ownX = fixed(own.getAffineX());
            byte[] ownY = fixed(own.getAffineY());
            byte[] seed = kdfe(z, "SECRET", ownX, fixed(new BigInteger(1, x)), DIGEST_BITS);
            java.util.Arrays.fill(z, (byte) 0);
            byte[] point = ByteBuffer.allocate(4 + 2 * P256_BYTES).putShort((short) P256_BYTES).put(ownX)
                    .putShort((short) P256_BYTES).put(ownY).array();
            return new Salt(seed, point);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this Java cannot do ECDH on P-256", e);
        }
    }

    /** The session key of an unbound session salted with {@code seed} (Part 1, 19.6.8). */
    public static byte[] sessionKey(byte[] seed, byte[] nonceTpm, byte[] nonceCaller) {
        return kdfa(seed, "ATH", nonceTpm, nonceCaller, DIGEST_BITS);
    }

    /** The session value: session key and authorisation value (trailing zeros dropped, Part 1, 19.6.4.3). */
    public static byte[] sessionValue(byte[] sessionKey, byte[] authValue) {
        int length = authValue.length;
        while (length > 0 && authValue[length - 1] == 0) {
            length--;
        }
        return ByteBuffer.allocate(sessionKey.length + length).put(sessionKey).put(authValue, 0, length).array();
    }

    /** HMAC-SHA256 of {@code parts} under {@code key}; an empty key is HMAC's all-zero block, as the TPM computes it. */
    public static byte[] hmac(byte[] key, byte[]... parts) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            // JCA refuses empty keys; the one-byte zero key pads to the same block.
            mac.init(new SecretKeySpec(key.length == 0 ? new byte[1] : key, "HmacSHA256"));
            for (byte[] part : parts) {
                mac.update(part);
            }
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this Java has no HMAC-SHA256", e);
        }
    }

    /**
     * AES-128-CFB over a parameter's bytes, key and IV from KDFa("CFB", {@code nonceNewer}, {@code nonceOlder})
     * under {@code sessionValue} (Part 1, 21.4): the TPM's nonce is the newer one in a response, the caller's in a command.
     */
    public static byte[] cfb(boolean encrypt, byte[] sessionValue, byte[] nonceNewer, byte[] nonceOlder, byte[] data) {
        byte[] keyAndIv = kdfa(sessionValue, "CFB", nonceNewer, nonceOlder, 256);
        try {
            Cipher cipher = Cipher.getInstance("AES/CFB/NoPadding");
            cipher.init(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE, new SecretKeySpec(keyAndIv, 0, 16, "AES"),
                    new IvParameterSpec(keyAndIv, 16, 16));
            return cipher.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this Java has no AES-CFB", e);
        } finally {
            java.util.Arrays.fill(keyAndIv, (byte) 0);
        }
    }

    /** KDFa (SP 800-108 counter mode with HMAC-SHA256; Part 1, 11.4.10.2); the label gets its terminating zero. */
    static byte[] kdfa(byte[] key, String label, byte[] contextU, byte[] contextV, int bits) {
        byte[] out = new byte[bits / 8];
        byte[] labelBytes = terminated(label);
        for (int i = 1, at = 0; at < out.length; i++) {
            byte[] block = hmac(key, ByteBuffer.allocate(4).putInt(i).array(), labelBytes, contextU, contextV,
                    ByteBuffer.allocate(4).putInt(bits).array());
            int n = Math.min(block.length, out.length - at);
            System.arraycopy(block, 0, out, at, n);
            at += n;
        }
        return out;
    }

    /** KDFe (SP 800-56A concatenation KDF with SHA-256; Part 1, 11.4.10.3). */
    static byte[] kdfe(byte[] z, String label, byte[] partyU, byte[] partyV, int bits) {
        byte[] out = new byte[bits / 8];
        try {
            for (int i = 1, at = 0; at < out.length; i++) {
                MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
                sha256.update(ByteBuffer.allocate(4).putInt(i).array());
                sha256.update(z);
                sha256.update(terminated(label));
                sha256.update(partyU);
                sha256.update(partyV);
                byte[] block = sha256.digest();
                int n = Math.min(block.length, out.length - at);
                System.arraycopy(block, 0, out, at, n);
                at += n;
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private static byte[] terminated(String label) {
        byte[] text = label.getBytes(StandardCharsets.US_ASCII);
        return java.util.Arrays.copyOf(text, text.length + 1);
    }

    /** A P-256 coordinate as 32 big-endian bytes. */
    private static byte[] fixed(BigInteger value) {
        byte[] raw = value.toByteArray();
        byte[] out = new byte[P256_BYTES];
        int copy = Math.min(raw.length, P256_BYTES);
        System.arraycopy(raw, raw.length - copy, out, P256_BYTES - copy, copy);
        return out;
    }
}
