package io.vmguard.seal;

/**
 * A data key sealed by a TPM: the TPM2B_PRIVATE and TPM2B_PUBLIC that TPM2_Create returned, as stored in a
 * sealed file, and the SHA-256 PCRs its policy names ({@code pcrs}, bit n = PCR n; 0 when it is bound to the
 * authorisation value alone), which the unseal's policy session must select again.
 */
public record SealedKey(byte[] privatePart, byte[] publicPart, int pcrs) {
    /** Far more than a sealed data object's parts (about 160 and 50 bytes): a header claiming more is not one. */
    static final int MAX_PART_BYTES = 1024;

    public SealedKey {
        if (privatePart.length > MAX_PART_BYTES || publicPart.length > MAX_PART_BYTES) {
            throw new IllegalArgumentException("a sealed key part of " + Math.max(privatePart.length, publicPart.length) + " bytes");
        }
        if ((pcrs & ~PcrSelection.ALLOWED) != 0) {
            throw new IllegalArgumentException("a sealed key bound to PCR mask 0x" + Integer.toHexString(pcrs));
        }
        privatePart = privatePart.clone();
        publicPart = publicPart.clone();
    }

    /** A key bound to the authorisation value alone. */
    public SealedKey(byte[] privatePart, byte[] publicPart) {
        this(privatePart, publicPart, 0);
    }

    @Override
    public byte[] privatePart() {
        return privatePart.clone();
    }

    @Override
    public byte[] publicPart() {
        return publicPart.clone();
    }
}
