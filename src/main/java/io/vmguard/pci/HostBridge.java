package io.vmguard.pci;

import java.lang.foreign.MemorySegment;

/**
 * Function 00:00.0, the host bridge: the CPU's side of the root bus. It has nothing to program (no BARs,
 * no interrupt), yet an OS expects it there: Linux's check that configuration mechanism 1 works
 * (arch/x86/pci/direct.c, pci_sanity_check) looks for a function of class "host bridge" on bus 0 when
 * there is no firmware to vouch for it.
 *
 * <p>IDs: 1b36:0008 is the ID Red Hat assigned to a generic virtual PCIe host bridge (QEMU's
 * docs/specs/pci-ids). vmguard has no PCI-SIG vendor ID of its own, and a real chipset's ID (i440FX
 * 8086:1237, Q35 8086:29c0) would be a lie that matters: Linux applies chipset quirks and probes
 * chipset-specific MMCONFIG registers by those IDs, for hardware vmguard does not emulate. No driver or
 * quirk binds to 1b36:0008, which is exactly right for a bridge with no registers. Subsystem IDs are 0:
 * there is no board vendor to name.
 */
final class HostBridge implements PciDevice {
    static final int VENDOR_ID = 0x1b36;
    static final int DEVICE_ID = 0x0008;
    /** Class 06 (bridge), subclass 00 (host bridge), no programming interface. */
    static final int BASE_CLASS = 0x06;

    private final PciConfigSpace config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID)
            .classCode(BASE_CLASS, 0x00, 0x00)
            .build();

    @Override
    public PciConfigSpace config() {
        return config;
    }

    /** Never called: without BARs nothing decodes to the bridge. Answers as nothing would. */
    @Override
    public void readBar(int bar, long offset, MemorySegment data) {
        data.fill((byte) 0xff);
    }

    @Override
    public void writeBar(int bar, long offset, MemorySegment data) {
        // no BARs: nothing to write
    }
}
