/**
 * An emulated Intel 82540EM gigabit NIC ("e1000"), driven unchanged by Linux's {@code e1000} driver:
 * {@link io.vmguard.devices.e1000.E1000} is the PCI function (registers, interrupts, the receive thread);
 * the EEPROM, PHY, transmit ring with its offloads (checksums, TSO) and receive ring with its filters are
 * one class each. The card knows its {@link io.vmguard.dma.DmaSpace} and a
 * {@link io.vmguard.net.NetBackend}, nothing of the IOMMU or the engine; {@code vmm.EmulatedNics} wires it.
 */
package io.vmguard.devices.e1000;
