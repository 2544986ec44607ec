package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.MsiSink;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.rng.VirtioRng;
import org.junit.jupiter.api.Test;

/** VIRTIO_PCI_CAP_PCI_CFG: the BAR's structures reached through configuration space alone. */
class PciConfigWindowTest {
    private final VirtioPciTransport transport = new VirtioPciTransport(new VirtioRng(), "rng", new GuestRam(1 << 16).dma(), MsiSink.NONE);
    private final ModernDriver driver = new ModernDriver(transport);
    private final int window = driver.capability(VirtioCapabilities.PCI_CFG).position();

    /** Points the window at {@code length} bytes at {@code offset} in {@code bar}. */
    private void point(int bar, long offset, int length) {
        transport.writeConfig(window + 4, 1, bar);
        transport.writeConfig(window + 8, 4, (int) offset);
        transport.writeConfig(window + 12, 4, length);
    }

    private int data(int size) {
        return transport.readConfig(window + PciConfigWindow.DATA, size);
    }

    private void data(int size, int value) {
        transport.writeConfig(window + PciConfigWindow.DATA, size, value);
    }

    @Test
    void theWindowDescribesItselfAndKeepsWhatTheDriverWrites() {
        assertEquals(PciConfigWindow.LENGTH, transport.readConfig(window + 2, 1), "cap_len");
        assertEquals(VirtioCapabilities.PCI_CFG, transport.readConfig(window + 3, 1), "cfg_type");
        point(0, 0x18, 2);
        assertEquals(0, transport.readConfig(window + 4, 1));
        assertEquals(0x18, transport.readConfig(window + 8, 4));
        assertEquals(2, transport.readConfig(window + 12, 4));
        transport.writeConfig(window + 2, 2, 0xffff);
        assertEquals(PciConfigWindow.LENGTH | VirtioCapabilities.PCI_CFG << 8, transport.readConfig(window + 2, 2), "read-only");
    }

    @Test
    void readsAndWritesReachTheCommonConfigurationWithMemorySpaceOff() {
        assertEquals(0, transport.config().command() & PciConfigSpace.COMMAND_MEMORY);
        point(0, BarLayout.COMMON + CommonConfig.NUM_QUEUES, 2);
        assertEquals(1, data(4) & 0xffff, "num_queues of the rng");
        point(0, BarLayout.COMMON + CommonConfig.DEVICE_STATUS, 1);
        data(1, DeviceStatus.ACKNOWLEDGE);
        assertEquals(DeviceStatus.ACKNOWLEDGE, driver.status());
        assertEquals(DeviceStatus.ACKNOWLEDGE, data(1));
    }

    @Test
    void readingIsrThroughTheWindowClearsItAsAMemoryReadWould() {
        transport.control().configurationChanged(); // MSI-X is off: ISR bit 1
        point(0, BarLayout.ISR, 1);
        assertEquals(PciInterrupt.ISR_CONFIG, data(1));
        assertEquals(0, driver.isr());
        assertTrue(!transport.config().interruptRequested());
    }

    /**
     * Each forbidden pointer is aimed at the MSI-X table, which takes accesses of any width and offset, so
     * an access the window should not have made would show there or in what pci_cfg_data reads.
     */
    @Test
    void valuesTheSpecForbidLeaveTheWindowInert() {
        driver.rawWrite(0, BarLayout.MSIX_TABLE, 4, 0xfee0_0000L);
        long[][] forbidden = {
                {1, BarLayout.MSIX_TABLE, 4}, // a BAR the function lacks
                {0, BarLayout.MSIX_TABLE, 3}, // a length other than 1, 2, 4
                {0, BarLayout.MSIX_TABLE, 0},
                {0, BarLayout.MSIX_TABLE + 1, 2}, // unaligned
                {0, BarLayout.BAR_SIZE, 4}, // past the BAR
                {0, 0xffff_fffcL, 4}, // far past it
        };
        for (long[] values : forbidden) {
            point((int) values[0], values[1], (int) values[2]);
            data(4, 0xffff_ffff);
            assertEquals(0xfee0_0000L, driver.rawRead(0, BarLayout.MSIX_TABLE, 4), "no write reached the table");
            assertEquals(0xffff_ffff, data(4), "no read replaced pci_cfg_data");
        }
        point(0, BarLayout.MSIX_TABLE + 2, 2);
        assertEquals(0xfee0, data(2), "the same table through a valid pointer");
    }
}
