package io.vmguard.arch.x86;

/**
 * How the INTx pins of PCI devices on bus 0 reach the I/O APIC: the classic swizzle over the eight
 * device GSIs, so neighbouring slots spread their INTA over different inputs. The PCI root complex
 * drives these lines and the ACPI tables (_PRT) describe them to the guest; both use this one rule.
 */
public final class PciInterruptRouting {
    private PciInterruptRouting() {}

    /** The GSI of {@code pin} (0 = INTA ... 3 = INTD) of the device in {@code slot}. */
    public static int gsi(int slot, int pin) {
        return X86Layout.FIRST_DEVICE_GSI + ((slot + pin) % 8);
    }
}
