package io.vmguard.arch.x86.acpi;

/**
 * The PCI Express memory-mapped configuration table (PCI Firmware Specification 3.2, 4.1.2): one ECAM
 * allocation, for PCI segment 0, buses {@code 0..lastBus}, 1 MiB per bus from {@code ecamBase}.
 */
final class Mcfg {
    static final String SIGNATURE = "MCFG";
    private static final int REVISION = 1;

    private Mcfg() {}

    static byte[] build(long ecamBase, int lastBus) {
        ByteWriter body = new ByteWriter()
                .zeros(8) // reserved
                .u64(ecamBase)
                .u16(0) // PCI segment group
                .u8(0) // start bus
                .u8(lastBus)
                .u32(0); // reserved
        return Sdt.build(SIGNATURE, REVISION, body.toArray());
    }
}
