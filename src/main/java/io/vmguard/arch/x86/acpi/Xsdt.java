package io.vmguard.arch.x86.acpi;

import java.util.List;

/** The Extended System Description Table (ACPI 6.5, 5.2.8): the 64-bit addresses of every table but the DSDT and FACS. */
final class Xsdt {
    static final String SIGNATURE = "XSDT";
    private static final int REVISION = 1;

    private Xsdt() {}

    static byte[] build(List<Long> tableAddresses) {
        ByteWriter body = new ByteWriter();
        tableAddresses.forEach(body::u64);
        return Sdt.build(SIGNATURE, REVISION, body.toArray());
    }
}
