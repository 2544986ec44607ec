package io.vmguard.av.db;

/** The digest a hash signature uses; ClamAV tells them apart by the number of hex digits alone. */
public enum HashKind {
    MD5("MD5", 32), SHA1("SHA-1", 40), SHA256("SHA-256", 64);

    /** The name {@link java.security.MessageDigest} knows it by. */
    public final String algorithm;
    public final int hexDigits;

    HashKind(String algorithm, int hexDigits) {
        this.algorithm = algorithm;
        this.hexDigits = hexDigits;
    }

    static HashKind ofHexLength(int length) {
        for (HashKind kind : values()) {
            if (kind.hexDigits == length) {
                return kind;
            }
        }
        return null;
    }
}
