package io.vmguard.seal;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.UUID;

/**
 * What starts every sealed file, in clear: a magic naming the kind of file, the snapshot's id, the data key
 * as the TPM sealed it (with the PCRs its policy names), and {@code layout} (the memory file's regions and chunk size; empty for the state
 * file). Its SHA-256 is authenticated with every encrypted piece, so a changed byte here fails them all.
 */
record SealedHeader(String magic, UUID id, SealedKey key, byte[] layout) {
    static final int MAGIC_BYTES = 8;
    private static final int MAX_LAYOUT_BYTES = 4096;

    byte[] bytes() {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(buffer)) {
            out.write(magic.getBytes(StandardCharsets.US_ASCII));
            out.writeLong(id.getMostSignificantBits());
            out.writeLong(id.getLeastSignificantBits());
            out.writeShort(key.privatePart().length);
            out.write(key.privatePart());
            out.writeShort(key.publicPart().length);
            out.write(key.publicPart());
            out.writeInt(key.pcrs());
            out.writeShort(layout.length);
            out.write(layout);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return buffer.toByteArray();
    }

    byte[] digest() {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a header, checking the magic and every length against its bound; {@code what} names the file in errors. */
    static SealedHeader read(DataInputStream in, String magic, String what) throws SealException {
        try {
            byte[] found = in.readNBytes(MAGIC_BYTES);
            if (!Arrays.equals(found, magic.getBytes(StandardCharsets.US_ASCII))) {
                throw new SealException(what + " is not a sealed vmguard file of this kind");
            }
            UUID id = new UUID(in.readLong(), in.readLong());
            byte[] privatePart = part(in, SealedKey.MAX_PART_BYTES, what);
            byte[] publicPart = part(in, SealedKey.MAX_PART_BYTES, what);
            int pcrs = in.readInt();
            if ((pcrs & ~PcrSelection.ALLOWED) != 0) {
                throw new SealException(what + " names PCR mask 0x" + Integer.toHexString(pcrs) + " (only PCRs 0-15 can bind a key)");
            }
            byte[] layout = part(in, MAX_LAYOUT_BYTES, what);
            return new SealedHeader(magic, id, new SealedKey(privatePart, publicPart, pcrs), layout);
        } catch (IOException e) {
            throw new SealException(what + " is cut short in its header");
        }
    }

    private static byte[] part(DataInputStream in, int max, String what) throws IOException, SealException {
        int length = in.readUnsignedShort();
        if (length > max) {
            throw new SealException(what + " has a header field of " + length + " bytes (at most " + max + ")");
        }
        byte[] bytes = in.readNBytes(length);
        if (bytes.length != length) {
            throw new java.io.EOFException();
        }
        return bytes;
    }

    static boolean startsWith(byte[] prefix, String magic) {
        return prefix.length >= MAGIC_BYTES && Arrays.equals(Arrays.copyOf(prefix, MAGIC_BYTES), magic.getBytes(StandardCharsets.US_ASCII));
    }
}
