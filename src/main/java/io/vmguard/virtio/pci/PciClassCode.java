package io.vmguard.virtio.pci;

import io.vmguard.virtio.DeviceType;

/**
 * The PCI class code a virtio device shows (PCI Code and ID Assignment spec). Linux's virtio_pci binds by
 * vendor and device ID and ignores it; it is for lspci and for OSes that pick drivers by class. Each says
 * what the device is without claiming a register interface it lacks (hence "other" subclasses, not SCSI
 * or 16550).
 */
record PciClassCode(int baseClass, int subClass, int progIf) {
    static PciClassCode of(DeviceType type) {
        return switch (type) {
            case NET -> new PciClassCode(0x02, 0x00, 0x00); // network controller: Ethernet
            case BLOCK -> new PciClassCode(0x01, 0x80, 0x00); // mass storage controller: other
            case CONSOLE -> new PciClassCode(0x07, 0x80, 0x00); // communication controller: other
            case IOMMU -> new PciClassCode(0x08, 0x80, 0x00); // base system peripheral: other
            case ENTROPY -> new PciClassCode(0xff, 0x00, 0x00); // no class fits
        };
    }
}
