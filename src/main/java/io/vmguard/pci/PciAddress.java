package io.vmguard.pci;

/** Where a PCI function sits: bus, device (slot) and function, as Linux prints it (segment 0). */
public record PciAddress(int bus, int device, int function) {
    public static final int DEVICES_PER_BUS = 32;
    public static final int FUNCTIONS_PER_DEVICE = 8;

    public PciAddress {
        if (bus < 0 || bus > 0xff || device < 0 || device >= DEVICES_PER_BUS || function < 0
                || function >= FUNCTIONS_PER_DEVICE) {
            throw new IllegalArgumentException("no PCI function " + bus + ":" + device + "." + function);
        }
    }

    @Override
    public String toString() {
        return String.format("0000:%02x:%02x.%x", bus, device, function);
    }
}
