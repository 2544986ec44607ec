package io.vmguard.arch.x86.acpi;

/**
 * A system description table: the 36-byte header every ACPI table but the RSDP starts with (ACPI 6.5,
 * 5.2.6), then the table's body; the checksum makes the whole table sum to zero.
 */
final class Sdt {
    static final int HEADER_SIZE = 36;
    static final int LENGTH_OFFSET = 4;
    static final int CHECKSUM_OFFSET = 9;
    /** Who made the tables: six and eight characters, as the header's OEMID and OEM Table ID fields hold them. */
    static final String OEM_ID = "VMGARD";
    static final String OEM_TABLE_ID = "VMGUARD ";
    static final int OEM_REVISION = 1;
    static final String CREATOR_ID = "VMGD";
    static final int CREATOR_REVISION = 1;

    private Sdt() {}

    /** The table with signature {@code signature} (four characters), header revision {@code revision}, and {@code body}. */
    static byte[] build(String signature, int revision, byte[] body) {
        ByteWriter out = new ByteWriter()
                .ascii(signature, 4)
                .u32(HEADER_SIZE + body.length)
                .u8(revision)
                .u8(0) // checksum, below
                .ascii(OEM_ID, 6)
                .ascii(OEM_TABLE_ID, 8)
                .u32(OEM_REVISION)
                .ascii(CREATOR_ID, 4)
                .u32(CREATOR_REVISION)
                .bytes(body);
        byte[] table = out.toArray();
        table[CHECKSUM_OFFSET] = Checksum.of(table, 0, table.length);
        return table;
    }
}
