package io.vmguard.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.InterruptLine;
import io.vmguard.dma.DmaFault;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.pci.VirtioPciTransport;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The device on a real virtio-pci function, driven as Linux's virtio-iommu driver drives it: negotiate,
 * read the configuration, post event buffers, PROBE then ATTACH each endpoint, MAP buffers, UNMAP them
 * (one request covering whole mappings), DETACH at removal; and the device's snapshot.
 */
class VirtioIommuPciTest {
    static final int NET = 0x10; // 00:02.0
    static final int BLOCK = 0x18; // 00:03.0
    static final long PAGE = 4096;

    private final GuestRam ram = new GuestRam(16 << 20);
    private final List<IommuFault> faults = new CopyOnWriteArrayList<>();
    private final AtomicInteger messages = new AtomicInteger();
    private final VirtioIommu iommu = new VirtioIommu(faults::add);
    private final IommuDmaSpace net = iommu.dmaSpace(NET, "virtio-net 0", ram.dma());
    private final IommuDmaSpace block = iommu.dmaSpace(BLOCK, "virtio-blk 0", ram.dma());
    private final VirtioPciTransport function = new VirtioPciTransport(iommu, "virtio-iommu", ram.dma(), messagesSink());
    private final DriverRings requests = new DriverRings(ram, 64);
    private final DriverRings events = new DriverRings(ram, 8);
    private PciDriverSide driver;

    private io.vmguard.bus.MsiSink messagesSink() {
        PciRoot root = new PciRoot(gsi -> InterruptLine.NONE, (address, data) -> messages.incrementAndGet());
        return root.msiSink();
    }

    /** viommu_probe: the device must offer MAP_UNMAP; the driver takes what it knows. */
    private void probeDevice() {
        driver = new PciDriverSide(function);
        driver.common(PciDriverSide.DEVICE_STATUS, 1, 0);
        driver.common(PciDriverSide.DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        long offered = driver.deviceFeatures();
        assertEquals(0x1040 + 23, function.readConfig(2, 2));
        assertTrue((offered & IommuFeatures.MAP_UNMAP) != 0 && (offered & VirtioFeatures.VERSION_1) != 0);
        long wanted = VirtioFeatures.VERSION_1 | IommuFeatures.MAP_UNMAP | IommuFeatures.INPUT_RANGE | IommuFeatures.DOMAIN_RANGE
                | IommuFeatures.PROBE | IommuFeatures.MMIO | IommuFeatures.BYPASS_CONFIG;
        assertEquals(wanted, offered & wanted);
        driver.driverFeatures(wanted);
        driver.common(PciDriverSide.DEVICE_STATUS, 1, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertTrue((driver.common(PciDriverSide.DEVICE_STATUS, 1) & DeviceStatus.FEATURES_OK) != 0);
        assertEquals(0xfffffffffffff000L, driver.deviceConfig(0, 8));
        assertEquals((1L << 48) - 1, driver.deviceConfig(16, 8));
        assertEquals(RequestHandler.PROBE_SIZE, driver.deviceConfig(32, 4));
        assertEquals(0, driver.deviceConfig(36, 1)); // bypass off
        queue(0, requests);
        queue(1, events);
        driver.common(PciDriverSide.DEVICE_STATUS, 1,
                DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
        for (int i = 0; i < 4; i++) {
            events.offer(DriverRings.Buffer.writable(ram.alloc(24), 24));
        }
        driver.kick(1);
    }

    private void queue(int index, DriverRings rings) {
        driver.queue(index, rings.size(), rings.layout().descriptorTable(), rings.layout().driverArea(), rings.layout().deviceArea());
    }

    /** viommu_send_req_sync: add, kick, and the reply is there when the kick returns (no waiting). */
    private byte[] request(byte[] readable, int writable) {
        long in = ram.put(readable);
        long out = ram.alloc(writable);
        requests.offer(DriverRings.Buffer.readable(in, readable.length), DriverRings.Buffer.writable(out, writable));
        driver.kick(0);
        List<DriverRings.Used> used = requests.takeUsed();
        assertEquals(1, used.size(), "the request completes inside the notification");
        assertEquals(writable, used.getFirst().length());
        return ram.read(out, writable);
    }

    private int status(byte[] readable) {
        return request(readable, 4)[0];
    }

    @Test
    void linuxDriverLifecycleProbeAttachMapUnmapDetachThroughVirtioPci() throws Exception {
        probeDevice();
        // PROBE then ATTACH for each endpoint, domain IDs from 0 (ida_alloc_range from domain_range.start).
        byte[] probe = request(IommuHarness.probeBytes(NET), RequestHandler.PROBE_SIZE + 4);
        assertEquals(1, IommuHarness.shortAt(probe, 0));
        assertEquals(0xfee00000L, IommuHarness.longAt(probe, 8));
        assertEquals(0, probe[RequestHandler.PROBE_SIZE]);
        assertEquals(0, status(IommuHarness.attachBytes(0, NET, 0, 0)));
        assertEquals(0, status(IommuHarness.attachBytes(1, BLOCK, 0, 0)));

        // dma_alloc_coherent: a ring, READ|WRITE; dma_map_page DMA_FROM_DEVICE: WRITE only; at the top of 32 bits.
        long ring = ram.alloc(3 * PAGE) + PAGE - 1 & -PAGE;
        long buffer = ring + PAGE;
        assertEquals(0, status(IommuHarness.mapBytes(0, 0xffffe000L, 0xffffefffL, ring, Mapping.READ | Mapping.WRITE)));
        assertEquals(0, status(IommuHarness.mapBytes(0, 0xfffff000L, 0xffffffffL, buffer, Mapping.WRITE)));
        net.writeInt(0xfffff010L, 0xabcd);
        assertEquals(0xabcd, ram.memory().readInt(buffer + 0x10));
        assertThrows(DmaFault.class, () -> net.readInt(0xfffff010L)); // written only
        assertThrows(DmaFault.class, () -> block.readInt(0xffffe000L)); // another domain's IOVA

        // One UNMAP covering both mappings, as the driver sends after removing them from its tree.
        assertEquals(0, status(IommuHarness.unmapBytes(0, 0xffffe000L, 0xffffffffL, 0)));
        assertThrows(DmaFault.class, () -> net.writeInt(0xfffff010L, 1));
        assertEquals(0xabcd, ram.memory().readInt(buffer + 0x10));

        // The faults reached the event queue (three buffers used) and the VMM.
        List<DriverRings.Used> posted = events.takeUsed();
        assertEquals(3, posted.size());
        assertTrue(posted.stream().allMatch(used -> used.length() == RequestCodec.FAULT_BYTES));
        assertEquals(3, faults.size());
        assertEquals("virtio-net 0", faults.getLast().device());
        assertEquals("write", faults.getLast().details().get("access"));

        // release_device: DETACH; the endpoint then has no DMA at all.
        assertEquals(0, status(IommuHarness.detachBytes(0, NET, 0)));
        assertThrows(DmaFault.class, () -> net.writeInt(buffer, 1));
        assertEquals(IommuFault.Reason.NOT_ATTACHED, faults.getLast().reason());
        assertEquals(7, iommu.counters().requests()); // PROBE, 2 ATTACH, 2 MAP, UNMAP, DETACH
    }

    @Test
    void anUnknownRequestTypeThroughTheTransportGetsUsedLengthZeroAndTheDeviceKeepsWorking() {
        probeDevice();
        long in = ram.put(new byte[] {9, 0, 0, 0, 1, 2, 3, 4});
        long out = ram.alloc(4);
        requests.offer(DriverRings.Buffer.readable(in, 8), DriverRings.Buffer.writable(out, 4));
        driver.kick(0);
        assertEquals(0, requests.takeUsed().getFirst().length());
        assertEquals(0, status(IommuHarness.attachBytes(0, NET, 0, 0)));
        assertEquals(0, driver.common(PciDriverSide.DEVICE_STATUS, 1) & DeviceStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void aSnapshotRestoresDomainsMappingsAndBypassIntoAFreshDevice() throws Exception {
        probeDevice();
        assertEquals(0, status(IommuHarness.attachBytes(0, NET, 0, 0)));
        assertEquals(0, status(IommuHarness.attachBytes(5, BLOCK, IommuRequest.F_BYPASS, 0)));
        long page = ram.alloc(2 * PAGE) + PAGE - 1 & -PAGE;
        assertEquals(0, status(IommuHarness.mapBytes(0, 0x100000, 0x100fff, page, Mapping.READ | Mapping.WRITE)));
        StateWriter out = StateWriter.root();
        iommu.pause();
        iommu.saveState(out);

        VirtioIommu copy = new VirtioIommu(fault -> { });
        IommuDmaSpace copiedNet = copy.dmaSpace(NET, "virtio-net 0", ram.dma());
        copy.dmaSpace(BLOCK, "virtio-blk 0", ram.dma());
        copy.restoreState(throughJson(out));
        assertEquals(iommu.domains().domains(), copy.domains().domains());
        copiedNet.writeInt(0x100000, 77);
        assertEquals(77, ram.memory().readInt(page));
    }

    @Test
    void aCorruptSnapshotIsRefusedWithTheFieldNamedAndNothingRestored() throws Exception {
        probeDevice();
        assertEquals(0, status(IommuHarness.attachBytes(0, NET, 0, 0)));
        assertEquals(0, status(IommuHarness.mapBytes(0, 0x100000, 0x100fff, 0x200000, Mapping.READ)));
        StateWriter out = StateWriter.root();
        iommu.saveState(out);
        String json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(out.tree());

        VirtioIommu copy = new VirtioIommu(fault -> { });
        copy.addEndpoint(NET);
        // An overlapping, unaligned, reserved-window or out-of-range mapping; an unknown endpoint; a bad ID.
        String[] corruptions = {
            json.replace("[1048576,1052671,2097152,1]", "[1048577,1052671,2097152,1]"),
            json.replace("[1048576,1052671,2097152,1]", "[4276092928,4276097023,0,1]"),
            json.replace("[1048576,1052671,2097152,1]", "[1048576,1052671,2097152,9]"),
            json.replace("\"endpoints\":[16]", "\"endpoints\":[99]"),
            json.replace("\"id\":0", "\"id\":65536"),
            json.replace("\"mappingCount\":1", "\"mappingCount\":2"),
        };
        for (String corrupt : corruptions) {
            assertTrue(!corrupt.equals(json), "each corruption changes the snapshot: " + json);
            StateReader reader = StateReader.of(new com.fasterxml.jackson.databind.ObjectMapper().readTree(corrupt));
            SnapshotException refused = assertThrows(SnapshotException.class, () -> copy.restoreState(reader), corrupt);
            assertTrue(refused.getMessage().contains("domains"), refused.getMessage());
            assertTrue(copy.domains().domains().isEmpty());
        }
    }

    private static StateReader throughJson(StateWriter out) throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        return StateReader.of(mapper.readTree(mapper.writeValueAsString(out.tree())));
    }
}
