package io.vmguard.arch.x86;

/**
 * How the INTx pins of PCI devices on bus 0 reach the I/O APIC: the one rule both the ACPI {@code _PRT}
 * and the PCI devices' interrupt lines follow. Slot {@code s}, pin {@code p} (0 = INTA .. 3 = INTD) goes to
 * GSI {@code FIRST_DEVICE_GSI + (s + p) % 8}: the usual swizzle, so that the INTA of neighbouring slots,
 * and the four pins of one slot, land on different inputs among the eight device GSIs.
 */
public final class PciInterruptRouting {
    /** Slot 0 is the host bridge, which raises no INTx. */
    public static final int FIRST_SLOT = 1;
    public static final int LAST_SLOT = 31;
    public static final int PINS = 4;
    private static final int DEVICE_GSIS = X86Layout.GSI_COUNT - X86Layout.FIRST_DEVICE_GSI;

    private PciInterruptRouting() {}

    /** The GSI of {@code pin} (0-3 for INTA-INTD) of the device in {@code slot} (1-31). */
    public static int gsi(int slot, int pin) {
        if (slot < FIRST_SLOT || slot > LAST_SLOT) {
            throw new IllegalArgumentException("PCI slot " + slot + " has no INTx routing (slots " + FIRST_SLOT + "-" + LAST_SLOT + ")");
        }
        if (pin < 0 || pin >= PINS) {
            throw new IllegalArgumentException("PCI interrupt pin " + pin + " is not INTA-INTD (0-3)");
        }
        return X86Layout.FIRST_DEVICE_GSI + (slot + pin) % DEVICE_GSIS;
    }
}
