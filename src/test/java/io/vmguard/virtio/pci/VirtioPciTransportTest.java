package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.InterruptLine;
import io.vmguard.dma.DmaFault;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciRoot;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.EchoDevice;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.Virtqueue;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The virtio-pci modern transport as Linux's virtio_pci driver finds and drives it. */
class VirtioPciTransportTest {
    private static final long DEVICE_FEATURE_BIT = 1L << 5;
    private static final int QUEUES = 2;
    private static final long MSI_ADDRESS = 0xfee0_0000L;

    private final GuestRam ram = new GuestRam(1 << 20);
    private final DriverRings rings0 = new DriverRings(ram, 8);
    private final DriverRings rings1 = new DriverRings(ram, 8);
    private final EchoDevice device = new EchoDevice(DeviceType.BLOCK, DEVICE_FEATURE_BIT, QUEUES, 64, 0xc0);
    private final List<Message> messages = new ArrayList<>();
    private final List<Boolean> intx = new ArrayList<>();
    private final VirtioPciTransport transport =
            new VirtioPciTransport(device, "test-device", ram.dma(), (address, data) -> messages.add(new Message(address, data)));
    private final ModernDriver driver = new ModernDriver(transport);

    record Message(long address, int data) {}


    /** Puts the transport on a root bus, so its INTA pin drives a line this test records. */
    private void plugIntoRoot() {
        InterruptLine line = intx::add;
        new PciRoot(gsi -> line, (address, data) -> { }).add(transport);
    }

    /** Linux's virtio_pci probe and a driver's set-up: features, then each queue, then DRIVER_OK. */
    private void initialise(boolean withMsix) {
        driver.command(PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        driver.status(0);
        driver.status(DeviceStatus.ACKNOWLEDGE);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        long offered = driver.common(CommonConfig.DEVICE_FEATURE, 4);
        driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4, 1);
        offered |= driver.common(CommonConfig.DEVICE_FEATURE, 4) << 32;
        assertEquals(DEVICE_FEATURE_BIT, offered & DEVICE_FEATURE_BIT);
        long accepted = DEVICE_FEATURE_BIT | 1L << 32;
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, accepted & 0xffff_ffffL);
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, accepted >>> 32);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertTrue((driver.status() & DeviceStatus.FEATURES_OK) != 0, "features accepted");
        if (withMsix) {
            driver.msix(true);
            for (int vector = 0; vector <= QUEUES; vector++) {
                driver.msixEntry(vector, MSI_ADDRESS, 0x40 + vector);
            }
            driver.common(CommonConfig.MSIX_CONFIG, 2, 0);
            assertEquals(0, driver.common(CommonConfig.MSIX_CONFIG, 2));
        }
        DriverRings[] rings = {rings0, rings1};
        for (int queue = 0; queue < QUEUES; queue++) {
            Virtqueue.Layout layout = rings[queue].layout();
            driver.common(CommonConfig.QUEUE_SELECT, 2, queue);
            assertEquals(64, driver.common(CommonConfig.QUEUE_SIZE, 2));
            driver.common(CommonConfig.QUEUE_SIZE, 2, layout.size());
            setAddress(CommonConfig.QUEUE_DESC_LO, layout.descriptorTable());
            setAddress(CommonConfig.QUEUE_DRIVER_LO, layout.driverArea());
            setAddress(CommonConfig.QUEUE_DEVICE_LO, layout.deviceArea());
            if (withMsix) {
                driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2, queue + 1);
                assertEquals(queue + 1, driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2));
            }
        }
        for (int queue = 0; queue < QUEUES; queue++) {
            driver.common(CommonConfig.QUEUE_SELECT, 2, queue);
            driver.common(CommonConfig.QUEUE_ENABLE, 2, 1);
        }
        driver.status(driver.status() | DeviceStatus.DRIVER_OK);
    }

    /** A 64-bit queue address as Linux writes it: low half, then high half. */
    private void setAddress(int lowField, long address) {
        driver.common(lowField, 4, address & 0xffff_ffffL);
        driver.common(lowField + 4, 4, address >>> 32);
    }

    @Test
    void identifiesItselfAsAModernVirtioFunctionOfItsType() {
        assertEquals(0x1af4, transport.readConfig(PciConfigSpace.VENDOR_ID, 2));
        assertEquals(0x1040 + DeviceType.BLOCK.id(), transport.readConfig(PciConfigSpace.DEVICE_ID, 2));
        assertEquals(1, transport.readConfig(PciConfigSpace.REVISION_ID, 1));
        assertEquals(0x1af4, transport.readConfig(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 2));
        assertTrue(transport.readConfig(PciConfigSpace.SUBSYSTEM_ID, 2) >= 0x40, "non-transitional subsystem ID");
        assertEquals(0x018000, transport.readConfig(PciConfigSpace.CLASS_CODE, 2) | transport.readConfig(0x0b, 1) << 16);
        assertEquals(1, transport.readConfig(PciConfigSpace.INTERRUPT_PIN, 1), "INTA");
        transport.writeConfig(PciConfigSpace.BAR0, 4, -1);
        assertEquals(~(0x8000 - 1), transport.readConfig(PciConfigSpace.BAR0, 4), "one 32 KiB 32-bit memory BAR");
    }

    @Test
    void theClassCodeFollowsTheDeviceType() {
        assertEquals(new PciClassCode(0x02, 0x00, 0x00), PciClassCode.of(DeviceType.NET));
        assertEquals(new PciClassCode(0x01, 0x80, 0x00), PciClassCode.of(DeviceType.BLOCK));
        assertEquals(new PciClassCode(0x07, 0x80, 0x00), PciClassCode.of(DeviceType.CONSOLE));
        assertEquals(new PciClassCode(0xff, 0x00, 0x00), PciClassCode.of(DeviceType.ENTROPY));
    }

    /**
     * The walk of virtio_pci_modern_dev.c: each cfg_type found in the vendor capabilities, in BAR 0, with
     * the minimum lengths and alignments vp_modern_map_capability checks, all inside the BAR; MSI-X with a
     * vector per queue plus the configuration vector.
     */
    @Test
    void theCapabilityChainLeadsLinuxToEachStructure() {
        assertTrue((transport.readConfig(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES) != 0);
        record Expect(int type, long offset, long minLength, int align) {}
        List<Expect> expected = List.of(
                new Expect(VirtioCapabilities.COMMON_CFG, 0x0000, 0x38, 4),
                new Expect(VirtioCapabilities.NOTIFY_CFG, 0x3000, 2, 2),
                new Expect(VirtioCapabilities.ISR_CFG, 0x1000, 1, 1),
                new Expect(VirtioCapabilities.DEVICE_CFG, 0x2000, 1, 4));
        for (Expect expect : expected) {
            ModernDriver.Capability capability = driver.capability(expect.type());
            assertEquals(0, capability.bar(), "type " + expect.type());
            assertEquals(expect.offset(), capability.offset(), "type " + expect.type());
            assertTrue(capability.length() >= expect.minLength(), "type " + expect.type());
            assertEquals(0, capability.offset() % expect.align(), "type " + expect.type());
            assertTrue(capability.offset() + capability.length() <= 0x8000, "inside BAR 0: type " + expect.type());
            assertEquals(capability.cfgType() == VirtioCapabilities.NOTIFY_CFG ? 20 : 16,
                    transport.readConfig(capability.position() + 2, 1), "cap_len");
        }
        assertEquals(CommonConfig.LENGTH, driver.capability(VirtioCapabilities.COMMON_CFG).length());
        assertEquals(4, driver.notifyOffMultiplier());
        assertTrue(driver.capability(VirtioCapabilities.NOTIFY_CFG).length() >= (QUEUES - 1) * 4L + 2,
                "every queue's notify address is inside the structure");
        assertNotNull(driver.capabilities().get(VirtioCapabilities.PCI_CFG), "the configuration access window");
        int msix = driver.msixPosition();
        assertTrue(msix != 0, "MSI-X capability");
        assertEquals(QUEUES + 1, (transport.readConfig(msix + 2, 2) & 0x7ff) + 1, "table size");
        assertEquals(0x4000, transport.readConfig(msix + 4, 4), "table in BAR 0 at 0x4000");
        assertEquals(0x5000, transport.readConfig(msix + 8, 4), "PBA in BAR 0 at 0x5000");
    }

    @Test
    void featureWordsAreSelectedAndTheDriversChoiceReadsBack() {
        driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4, 0);
        assertEquals(DEVICE_FEATURE_BIT | 1L << 28 | 1L << 29, driver.common(CommonConfig.DEVICE_FEATURE, 4));
        driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4, 1);
        assertEquals(1, driver.common(CommonConfig.DEVICE_FEATURE, 4), "VERSION_1");
        assertEquals(1, driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4));
        driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4, 7);
        assertEquals(0, driver.common(CommonConfig.DEVICE_FEATURE, 4), "no feature word 7");
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, 1);
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, DEVICE_FEATURE_BIT);
        assertEquals(DEVICE_FEATURE_BIT, driver.common(CommonConfig.DRIVER_FEATURE, 4));
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
        assertEquals(1, driver.common(CommonConfig.DRIVER_FEATURE, 4));
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK, driver.status());
    }

    @Test
    void featuresTheDeviceDidNotOfferLeaveFeaturesOkClear() {
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, 1L << 20);
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, 1);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertEquals(0, driver.status() & DeviceStatus.FEATURES_OK);
    }

    @Test
    void queueRegistersSelectSizeAddressEnableAndNotifyOffset() {
        assertEquals(QUEUES, driver.common(CommonConfig.NUM_QUEUES, 2));
        driver.common(CommonConfig.QUEUE_SELECT, 2, 1);
        assertEquals(1, driver.common(CommonConfig.QUEUE_SELECT, 2));
        assertEquals(64, driver.common(CommonConfig.QUEUE_SIZE, 2), "the maximum until the driver writes it");
        driver.common(CommonConfig.QUEUE_SIZE, 2, 16);
        assertEquals(16, driver.common(CommonConfig.QUEUE_SIZE, 2));
        setAddress(CommonConfig.QUEUE_DESC_LO, 0x1_2345_6780L);
        setAddress(CommonConfig.QUEUE_DRIVER_LO, 0x2_0000_1000L);
        setAddress(CommonConfig.QUEUE_DEVICE_LO, 0x3_0000_2000L);
        assertEquals(0x2345_6780L, driver.common(CommonConfig.QUEUE_DESC_LO, 4));
        assertEquals(1, driver.common(CommonConfig.QUEUE_DESC_HI, 4));
        assertEquals(0x1000, driver.common(CommonConfig.QUEUE_DRIVER_LO, 4));
        assertEquals(2, driver.common(CommonConfig.QUEUE_DRIVER_HI, 4));
        assertEquals(0x2000, driver.common(CommonConfig.QUEUE_DEVICE_LO, 4));
        assertEquals(3, driver.common(CommonConfig.QUEUE_DEVICE_HI, 4));
        VirtioControl.QueueConfig queue = transport.control().queue(1);
        assertEquals(new Virtqueue.Layout(16, 0x1_2345_6780L, 0x2_0000_1000L, 0x3_0000_2000L),
                new Virtqueue.Layout(queue.size(), queue.descriptorTable(), queue.driverArea(), queue.deviceArea()));
        assertEquals(1, driver.common(CommonConfig.QUEUE_NOTIFY_OFF, 2));
        assertEquals(0, driver.common(CommonConfig.QUEUE_ENABLE, 2));
        driver.common(CommonConfig.QUEUE_ENABLE, 2, 1);
        assertEquals(1, driver.common(CommonConfig.QUEUE_ENABLE, 2));
        driver.common(CommonConfig.QUEUE_SIZE, 2, 8);
        assertEquals(16, driver.common(CommonConfig.QUEUE_SIZE, 2), "frozen once enabled");
        driver.common(CommonConfig.QUEUE_SELECT, 2, 0);
        assertEquals(0, driver.common(CommonConfig.QUEUE_NOTIFY_OFF, 2));
        assertEquals(0, driver.common(CommonConfig.QUEUE_ENABLE, 2), "queue 0 is still disabled");
    }

    @Test
    void aSelectedQueueTheDeviceLacksReadsAsAbsentAndIgnoresWrites() {
        driver.common(CommonConfig.QUEUE_SELECT, 2, 0xffff);
        assertEquals(0, driver.common(CommonConfig.QUEUE_SIZE, 2), "size 0: no such queue");
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2));
        driver.common(CommonConfig.QUEUE_SIZE, 2, 8);
        driver.common(CommonConfig.QUEUE_ENABLE, 2, 1);
        driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2, 1);
        driver.common(CommonConfig.QUEUE_DESC_LO, 4, 0x1000);
        driver.kick(0xffff);
        assertEquals(0, driver.common(CommonConfig.QUEUE_ENABLE, 2));
        assertEquals(0, driver.common(CommonConfig.QUEUE_DESC_LO, 4));
        assertTrue(device.notified.isEmpty());
    }

    @Test
    void msixVectorsOutsideTheTableReadBackAsNoVectorAndAResetForgetsTheChoice() {
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.MSIX_CONFIG, 2), "none until the driver chooses");
        driver.common(CommonConfig.MSIX_CONFIG, 2, QUEUES);
        assertEquals(QUEUES, driver.common(CommonConfig.MSIX_CONFIG, 2), "the last table entry");
        driver.common(CommonConfig.MSIX_CONFIG, 2, QUEUES + 1);
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.MSIX_CONFIG, 2), "past the table: mapping failed");
        driver.common(CommonConfig.QUEUE_SELECT, 2, 1);
        driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2, 0x8001);
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2));
        driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2, 2);
        assertEquals(2, driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2));
        driver.common(CommonConfig.MSIX_CONFIG, 2, 0);
        driver.status(0);
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.MSIX_CONFIG, 2));
        driver.common(CommonConfig.QUEUE_SELECT, 2, 1);
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2));
    }

    @Test
    void writingStatusZeroResetsTheDeviceAndItsRegisters() {
        rings0.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(false);
        assertNotNull(device.context);
        int generation = (int) driver.common(CommonConfig.CONFIG_GENERATION, 1);
        transport.control().configurationChanged();
        assertEquals((generation + 1) & 0xff, driver.common(CommonConfig.CONFIG_GENERATION, 1));
        driver.common(CommonConfig.QUEUE_SELECT, 2, 1);
        driver.status(0);
        assertEquals(0, driver.status(), "Linux's vp_reset polls for 0");
        assertEquals(1, device.resets);
        assertNull(device.context);
        assertEquals(0, driver.common(CommonConfig.QUEUE_SELECT, 2));
        assertEquals(0, driver.common(CommonConfig.QUEUE_ENABLE, 2));
        assertEquals(64, driver.common(CommonConfig.QUEUE_SIZE, 2));
        assertEquals(0, driver.isr(), "the pending configuration interrupt went with the reset");
        assertFalse(transport.config().interruptRequested());
    }

    /**
     * Found by VirtioPciFuzzTest: writing only DEVICE_NEEDS_RESET made the status read 0, which tells a
     * driver the device was reset, while the device ran on with the old queues.
     */
    @Test
    void aStatusWriteThatWouldClearBitsIsNoResetAndClearsNothing() {
        rings0.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(false);
        int status = driver.status();
        driver.status(DeviceStatus.DEVICE_NEEDS_RESET); // the device's bit, so nothing of the driver's
        assertEquals(status, driver.status(), "status 0 would say the device was reset");
        driver.status(DeviceStatus.ACKNOWLEDGE);
        assertEquals(status, driver.status(), "only a reset clears DRIVER_OK while the device runs");
        assertNotNull(device.context, "still running");
        assertEquals(0, device.resets);
    }

    @Test
    void aKickAtAQueuesNotifyAddressServesThatQueue() {
        rings1.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(false);
        driver.kick(1);
        assertEquals(List.of(1), device.notified);
        assertEquals(1, rings1.usedIndex());
        driver.kick(0);
        assertEquals(List.of(1, 0), device.notified);
        ModernDriver.Capability notify = driver.capability(VirtioCapabilities.NOTIFY_CFG);
        driver.rawWrite(0, notify.offset() + 4, 4, 1); // 32 bits, as with NOTIFICATION_DATA: still a kick
        assertEquals(List.of(1, 0, 1), device.notified);
        driver.rawWrite(0, notify.offset() + 4, 1, 1); // a byte: no queue index fits
        driver.rawWrite(0, notify.offset() + 2, 2, 0); // between two queues' addresses
        driver.rawWrite(0, notify.offset() + 8, 2, 2); // past the last queue
        assertEquals(List.of(1, 0, 1), device.notified);
    }

    @Test
    void withoutMsixTheIsrBitRaisesIntxAndItsReadClearsBoth() {
        plugIntoRoot();
        rings0.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(false);
        driver.kick(0);
        assertTrue(transport.config().interruptRequested(), "PCI status: interrupt");
        assertEquals(List.of(true), intx);
        transport.control().configurationChanged();
        assertEquals(PciInterrupt.ISR_QUEUE | PciInterrupt.ISR_CONFIG, driver.isr());
        assertEquals(List.of(true, false), intx, "the read lowered the line");
        assertFalse(transport.config().interruptRequested());
        assertEquals(0, driver.isr(), "read-to-clear");
        assertTrue(messages.isEmpty());
    }

    @Test
    void withMsixUsedBuffersAndConfigurationChangesSignalTheAssignedVectors() {
        plugIntoRoot();
        rings0.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        rings1.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(true);
        driver.kick(1);
        driver.kick(0);
        transport.control().configurationChanged();
        assertEquals(List.of(new Message(MSI_ADDRESS, 0x42), new Message(MSI_ADDRESS, 0x41), new Message(MSI_ADDRESS, 0x40)),
                messages);
        assertEquals(0, driver.isr(), "no ISR bits with MSI-X");
        assertTrue(intx.isEmpty(), "no INTx with MSI-X");
    }

    @Test
    void noVectorMeansNoInterruptAtAll() {
        plugIntoRoot();
        rings0.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(true);
        driver.common(CommonConfig.MSIX_CONFIG, 2, VirtioControl.NO_VECTOR);
        driver.common(CommonConfig.QUEUE_SELECT, 2, 0);
        driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2, VirtioControl.NO_VECTOR);
        driver.kick(0);
        transport.control().configurationChanged();
        assertEquals(1, rings0.usedIndex(), "the buffer was used");
        assertTrue(messages.isEmpty());
        assertEquals(0, driver.isr());
        assertTrue(intx.isEmpty());
    }

    @Test
    void withBusMasteringOffAKickIsIgnoredAndNoDmaHappens() {
        rings0.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(false);
        driver.command(PciConfigSpace.COMMAND_MEMORY);
        driver.kick(0);
        assertTrue(device.notified.isEmpty(), "the device never saw the kick");
        assertEquals(0, rings0.usedIndex(), "nothing written to the used ring");
        assertThrows(DmaFault.class, () -> device.context.dma().readInt(rings0.layout().descriptorTable()),
                "the device's own DMA (e.g. a receive thread) is shut too");
        driver.command(PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        driver.kick(0);
        assertEquals(1, rings0.usedIndex(), "the next kick with bus mastering on serves the buffer");
    }

    @Test
    void driverOkWithBusMasteringOffCannotReachTheRingsAndNeedsReset() {
        driver.command(PciConfigSpace.COMMAND_MEMORY);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, 1);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        Virtqueue.Layout layout = rings0.layout();
        driver.common(CommonConfig.QUEUE_SIZE, 2, layout.size());
        setAddress(CommonConfig.QUEUE_DESC_LO, layout.descriptorTable());
        setAddress(CommonConfig.QUEUE_DRIVER_LO, layout.driverArea());
        setAddress(CommonConfig.QUEUE_DEVICE_LO, layout.deviceArea());
        driver.common(CommonConfig.QUEUE_ENABLE, 2, 1);
        driver.status(driver.status() | DeviceStatus.DRIVER_OK);
        assertTrue((driver.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0);
        assertNull(device.context, "never activated");
    }

    @Test
    void deviceConfigurationIsTheDevicesAtAnyWidth() {
        assertEquals(0xc0, driver.deviceConfig(0, 1));
        assertEquals(0xc3c2, driver.deviceConfig(2, 2));
        assertEquals(0xc7c6c5c4L, driver.deviceConfig(4, 4));
    }

    @Test
    void accessesOfTheWrongWidthOrWhereNoFieldStartsAreHarmless() {
        ModernDriver.Capability common = driver.capability(VirtioCapabilities.COMMON_CFG);
        assertEquals(0, driver.rawRead(0, common.offset() + CommonConfig.NUM_QUEUES, 4), "a 16-bit field read as 32 bits");
        assertEquals(0, driver.rawRead(0, common.offset() + CommonConfig.DEVICE_FEATURE, 8), "64 bits");
        assertEquals(0, driver.rawRead(0, common.offset() + 1, 1), "inside a field");
        driver.rawWrite(0, common.offset() + CommonConfig.DEVICE_STATUS, 4, DeviceStatus.ACKNOWLEDGE);
        assertEquals(0, driver.status(), "status is a byte");
        driver.common(CommonConfig.NUM_QUEUES, 2, 9);
        assertEquals(QUEUES, driver.common(CommonConfig.NUM_QUEUES, 2), "read-only");
        driver.status(DeviceStatus.ACKNOWLEDGE);
        assertEquals(0, driver.rawRead(0, 0x1000 - 2, 4), "straddling two structures");
        assertEquals(0, driver.rawRead(0, 0x7ffc, 4), "unused BAR space");
        assertEquals(0, driver.rawRead(3, 0, 4), "no BAR 3");
        assertEquals(DeviceStatus.ACKNOWLEDGE, driver.status(), "none of that changed anything");
    }

    /** Whatever a guest writes wherever it likes, at any width, nothing throws out of the transport. */
    @Test
    void randomAccessesAnywhereNeverThrow() {
        initialise(true);
        Random random = new Random(42);
        int[] widths = {1, 2, 4, 8};
        for (int i = 0; i < 20_000; i++) {
            int width = widths[random.nextInt(widths.length)];
            long offset = random.nextInt(0x8000 + 16) - 8;
            if (random.nextBoolean()) {
                driver.rawWrite(random.nextInt(6), Math.max(offset, 0), width, random.nextLong());
            } else {
                driver.rawRead(random.nextInt(6), Math.max(offset, 0), width);
            }
            int configWidth = 1 + random.nextInt(4);
            int configOffset = random.nextInt(PciConfigSpace.SIZE - configWidth + 1);
            if (random.nextBoolean()) {
                transport.writeConfig(configOffset, configWidth, random.nextInt());
            } else {
                transport.readConfig(configOffset, configWidth);
            }
        }
    }
}
