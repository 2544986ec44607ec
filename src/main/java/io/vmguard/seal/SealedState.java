package io.vmguard.seal;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.UUID;

/**
 * A snapshot's state file, sealed: {@code u32 header length | header ("VMGSEALS": id, sealed key) | the state
 * (JSON) as one AES-256-GCM piece}. The state holds what the guest's registers and devices held, its TPM's
 * seeds among them, so it is sealed with the memory file's key.
 */
public final class SealedState {
    static final String MAGIC = "VMGSEALS";

    private SealedState() {}

    /** Whether {@code prefix} (a file's first bytes, at least 12) starts a sealed state file. */
    public static boolean isSealed(byte[] prefix) {
        return prefix.length >= 4 + SealedHeader.MAGIC_BYTES
                && SealedHeader.startsWith(Arrays.copyOfRange(prefix, 4, prefix.length), MAGIC);
    }

    public static byte[] seal(byte[] state, UUID id, byte[] key, SealedKey sealedKey) {
        SealedHeader header = new SealedHeader(MAGIC, id, sealedKey, new byte[0]);
        byte[] headerBytes = header.bytes();
        byte[] sealed = new ChunkCipher(key, header.digest()).encrypt(ChunkCipher.INDEX_STATE, state);
        return ByteBuffer.allocate(4 + headerBytes.length + sealed.length).putInt(headerBytes.length).put(headerBytes).put(sealed).array();
    }

    /** The header of a sealed state file: what to unseal, and the snapshot's id. */
    public record Opened(UUID id, SealedKey key, byte[] header) {}

    public static Opened open(byte[] file, String what) throws SealException {
        if (file.length < 4) {
            throw new SealException(what + " is cut short");
        }
        int headerLength = ByteBuffer.wrap(file).getInt(0);
        if (headerLength < 0 || headerLength > file.length - 4) {
            throw new SealException(what + " has a header of " + Integer.toUnsignedString(headerLength) + " bytes");
        }
        SealedHeader header = SealedHeader.read(new DataInputStream(new ByteArrayInputStream(file, 4, headerLength)), MAGIC, what);
        return new Opened(header.id(), header.key(), Arrays.copyOfRange(file, 4, 4 + headerLength));
    }

    /** The state (JSON bytes) of a sealed state file, decrypted with {@code key}. */
    public static byte[] unseal(byte[] file, byte[] key, String what) throws SealException {
        Opened opened = open(file, what);
        SealedHeader header = new SealedHeader(MAGIC, opened.id(), opened.key(), new byte[0]);
        if (!Arrays.equals(header.bytes(), opened.header())) {
            throw new SealException(what + " has a malformed header");
        }
        byte[] state = new ChunkCipher(key, header.digest()).decrypt(ChunkCipher.INDEX_STATE,
                Arrays.copyOfRange(file, 4 + opened.header().length, file.length));
        if (state == null) {
            throw new SealException(what + " was modified (it fails its authentication)");
        }
        return state;
    }
}
