package io.vmguard.seal;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM over numbered pieces of one sealed file (JCA; AES-NI where the CPU has it). Every piece has
 * its own 96-bit IV, four zero bytes and its 64-bit index (deterministic IVs, NIST SP 800-38D 8.2.1: a key
 * is made fresh for each snapshot and each index used once with it), and is authenticated together with
 * the file's header digest, its index and its length, so pieces cannot be moved, swapped between files or
 * cut short without failing.
 */
final class ChunkCipher {
    static final int TAG_BYTES = 16;
    /** Indexes of the pieces that are not memory chunks (those count from 0). */
    static final long INDEX_STATE = 1L << 62;
    static final long INDEX_PRESENT = (1L << 62) + 1;

    private final SecretKeySpec key;
    private final byte[] headerDigest;
    private final Cipher cipher;

    ChunkCipher(byte[] key, byte[] headerDigest) {
        this.key = new SecretKeySpec(key, "AES");
        this.headerDigest = headerDigest.clone();
        try {
            this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this Java has no AES-GCM", e);
        }
    }

    /** Encrypts {@code plain} (all its remaining bytes) as piece {@code index} into {@code sealed}. */
    void encrypt(long index, ByteBuffer plain, ByteBuffer sealed) {
        try {
            start(Cipher.ENCRYPT_MODE, index, plain.remaining());
            cipher.doFinal(plain, sealed);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /** Decrypts piece {@code index} ({@code sealed}'s remaining bytes, tag last) into {@code plain}; false if it fails its tag. */
    boolean decrypt(long index, ByteBuffer sealed, ByteBuffer plain) {
        try {
            start(Cipher.DECRYPT_MODE, index, sealed.remaining() - TAG_BYTES);
            cipher.doFinal(sealed, plain);
            return true;
        } catch (AEADBadTagException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption failed", e);
        }
    }

    /**
     * Encrypts {@code length} bytes of {@code plain} as piece {@code index} into {@code sealed} (length + tag bytes).
     * On heap arrays: JCA's AES-GCM intrinsics run on arrays, and direct buffers would be copied through them anyway.
     */
    void encrypt(long index, byte[] plain, int length, byte[] sealed) {
        try {
            start(Cipher.ENCRYPT_MODE, index, length);
            cipher.doFinal(plain, 0, length, sealed, 0);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /** Decrypts piece {@code index} ({@code length} plain bytes and the tag) into {@code plain}; false if it fails its tag. */
    boolean decrypt(long index, byte[] sealed, int length, byte[] plain) {
        try {
            start(Cipher.DECRYPT_MODE, index, length);
            cipher.doFinal(sealed, 0, length + TAG_BYTES, plain, 0);
            return true;
        } catch (AEADBadTagException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption failed", e);
        }
    }

    byte[] encrypt(long index, byte[] plain) {
        ByteBuffer sealed = ByteBuffer.allocate(plain.length + TAG_BYTES);
        encrypt(index, ByteBuffer.wrap(plain), sealed);
        return sealed.array();
    }

    /** The plain bytes of piece {@code index}, or null when it fails its tag (modified, or another key). */
    byte[] decrypt(long index, byte[] sealed) {
        if (sealed.length < TAG_BYTES) {
            return null;
        }
        ByteBuffer plain = ByteBuffer.allocate(sealed.length - TAG_BYTES);
        return decrypt(index, ByteBuffer.wrap(sealed), plain) ? plain.array() : null;
    }

    private void start(int mode, long index, int length) throws GeneralSecurityException {
        cipher.init(mode, key, new GCMParameterSpec(TAG_BYTES * 8, iv(index)));
        cipher.updateAAD(aad(headerDigest, index, length));
    }

    /** Piece {@code index}'s 96-bit IV: four zero bytes and the index (any other AES-GCM must use the same). */
    static byte[] iv(long index) {
        return ByteBuffer.allocate(12).putInt(0).putLong(index).array();
    }

    /** Piece {@code index}'s additional authenticated data: the header's digest, the index and the plain length. */
    static byte[] aad(byte[] headerDigest, long index, int length) {
        return ByteBuffer.allocate(headerDigest.length + 12).put(headerDigest).putLong(index).putInt(length).array();
    }
}
