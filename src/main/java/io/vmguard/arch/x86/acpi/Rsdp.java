package io.vmguard.arch.x86.acpi;

/**
 * The Root System Description Pointer (ACPI 6.5, 5.2.5.3), revision 2: it points at the XSDT only (the
 * 32-bit RSDT address is 0; ACPICA uses the XSDT whenever the revision is 2 or more). The first checksum
 * covers the ACPI 1.0 part (20 bytes), the extended one all 36 bytes.
 */
final class Rsdp {
    static final int SIZE = 36;
    static final int V1_SIZE = 20;
    static final int CHECKSUM_OFFSET = 8;
    static final int EXTENDED_CHECKSUM_OFFSET = 32;
    static final String SIGNATURE = "RSD PTR ";
    private static final int REVISION = 2;

    private Rsdp() {}

    static byte[] build(long xsdtAddress) {
        byte[] rsdp = new ByteWriter()
                .ascii(SIGNATURE, 8)
                .u8(0) // checksum, below
                .ascii(Sdt.OEM_ID, 6)
                .u8(REVISION)
                .u32(0) // RsdtAddress: no RSDT
                .u32(SIZE)
                .u64(xsdtAddress)
                .u8(0) // extended checksum, below
                .zeros(3)
                .toArray();
        rsdp[CHECKSUM_OFFSET] = Checksum.of(rsdp, 0, V1_SIZE);
        rsdp[EXTENDED_CHECKSUM_OFFSET] = Checksum.of(rsdp, 0, SIZE);
        return rsdp;
    }
}
