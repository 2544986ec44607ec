package io.vmguard.arch.x86.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The Fixed ACPI Description Table (ACPI 6.5, 5.2.9), revision 6.0, for a hardware-reduced ACPI platform
 * (as Firecracker and Cloud Hypervisor describe theirs): no PM1 or GPE register blocks, no SCI, no PM timer,
 * no FACS. What it carries is the DSDT's 64-bit address and the IA-PC boot architecture flags.
 *
 * <p>Hardware-reduced ACPI has consequences in Linux (arch/x86/kernel/acpi/boot.c,
 * {@code acpi_generic_reduced_hw_init}): it installs no legacy PIC and no legacy timer interrupt, so the guest
 * runs on the I/O APIC and the local APIC timer from the start and never programs the 8259s or the PIT's IRQ 0.
 */
final class Fadt {
    static final String SIGNATURE = "FACP";
    static final int SIZE = 276;
    private static final int REVISION = 6;
    private static final int MINOR_REVISION = 0;

    static final int IAPC_BOOT_ARCH_OFFSET = 109;
    static final int FLAGS_OFFSET = 112;
    static final int X_DSDT_OFFSET = 140;
    private static final int CENTURY_OFFSET = 108;
    private static final int MINOR_REVISION_OFFSET = 131;
    private static final int HYPERVISOR_ID_OFFSET = 268;

    /** IA-PC boot architecture flags: the PC devices vmguard has (serial, RTC, i8042) are there; there is no VGA to probe. */
    static final int LEGACY_DEVICES = 1, I8042 = 1 << 1, NO_VGA = 1 << 2;
    static final int HW_REDUCED_ACPI = 1 << 20;
    /** The CMOS RTC's century register (CmosRtc keeps it). */
    private static final int CMOS_CENTURY = 0x32;

    private Fadt() {}

    static byte[] build(long dsdtAddress) {
        byte[] body = new byte[SIZE - Sdt.HEADER_SIZE];
        ByteBuffer fields = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        // Offsets in the table less the header: FIRMWARE_CTRL and the 32-bit DSDT stay 0, X_DSDT says where it is.
        fields.put(CENTURY_OFFSET - Sdt.HEADER_SIZE, (byte) CMOS_CENTURY);
        fields.putShort(IAPC_BOOT_ARCH_OFFSET - Sdt.HEADER_SIZE, (short) (LEGACY_DEVICES | I8042 | NO_VGA));
        fields.putInt(FLAGS_OFFSET - Sdt.HEADER_SIZE, HW_REDUCED_ACPI);
        fields.put(MINOR_REVISION_OFFSET - Sdt.HEADER_SIZE, (byte) MINOR_REVISION);
        fields.putLong(X_DSDT_OFFSET - Sdt.HEADER_SIZE, dsdtAddress);
        fields.put(HYPERVISOR_ID_OFFSET - Sdt.HEADER_SIZE, "VMGUARD ".getBytes(StandardCharsets.US_ASCII));
        return Sdt.build(SIGNATURE, REVISION, body);
    }
}
