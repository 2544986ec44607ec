package io.vmguard.av.db;

/**
 * A hash signature: a whole file (.hdb/.hsb, and the .fp/.sfp allow lists) or a PE section (.mdb/.msb).
 *
 * @param size the file or section size in bytes, {@link #ANY_SIZE} for {@code *}
 */
public record HashSignature(HashKind kind, byte[] digest, long size, String name, String database) {
    public static final long ANY_SIZE = -1;
}
