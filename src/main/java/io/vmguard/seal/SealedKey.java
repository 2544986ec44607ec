package io.vmguard.seal;

/** A data key sealed by a TPM: the TPM2B_PRIVATE and TPM2B_PUBLIC that TPM2_Create returned, as stored in a sealed file. */
public record SealedKey(byte[] privatePart, byte[] publicPart) {
    /** Far more than a sealed data object's parts (about 160 and 50 bytes): a header claiming more is not one. */
    static final int MAX_PART_BYTES = 1024;

    public SealedKey {
        if (privatePart.length > MAX_PART_BYTES || publicPart.length > MAX_PART_BYTES) {
            throw new IllegalArgumentException("a sealed key part of " + Math.max(privatePart.length, publicPart.length) + " bytes");
        }
        privatePart = privatePart.clone();
        publicPart = publicPart.clone();
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
