package io.vmguard.iommu;

import static io.vmguard.iommu.IommuHarness.attachBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.dma.DmaFault;
import io.vmguard.testing.DriverRings;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Rows 44-50 of the matrix (research note iommu.md, section 4): what devices may reach once the driver
 * has set things up, how refused accesses are reported, and what UNMAP and DETACH guarantee to accesses on
 * other threads. Plus the translation cache and whole-range checks.
 */
class DmaMatrixTest {
    static final int EP = 0x08;
    static final long PAGE = 4096;

    private final IommuHarness h = new IommuHarness();
    private final IommuDmaSpace dma = h.endpoint(EP);

    private long pages(int count) {
        return h.ram.alloc((count + 1) * PAGE) + PAGE - 1 & -PAGE;
    }

    @Test
    void row44_dmaFromAnUnattachedEndpointIsDeniedWithAnRDomainFaultOnTheEventQueue() {
        long event = h.offerEvent(24);
        assertThrows(DmaFault.class, () -> dma.readInt(0x1000));
        List<DriverRings.Used> used = h.events.takeUsed();
        assertEquals(1, used.size());
        assertEquals(24, used.getFirst().length());
        byte[] bytes = h.ram.read(event, 24);
        assertEquals(RequestCodec.FAULT_F_ADDRESS | RequestCodec.FAULT_F_READ, IommuHarness.intAt(bytes, 4));
        assertEquals(1, bytes[0]); // VIRTIO_IOMMU_FAULT_R_DOMAIN
        assertEquals(EP, IommuHarness.intAt(bytes, 8));
        assertEquals(0x1000, IommuHarness.longAt(bytes, 16));
        IommuFault fault = h.reported.getFirst();
        assertEquals(new IommuFault("test device 8", EP, OptionalLong.empty(), 0x1000, 4, Access.READ, IommuFault.Reason.NOT_ATTACHED), fault);
        assertEquals(1, h.interrupt.usedInterrupts(VirtioIommu.EVENT_QUEUE));
    }

    @Test
    void row44_bypassLetsUnattachedEndpointsThroughOnlyWithBypassConfigAndTheByteSet() throws Exception {
        long page = pages(1);
        assertThrows(DmaFault.class, () -> dma.writeInt(page, 1));
        h.iommu.writeConfig(VirtioIommu.CONFIG_BYPASS, MemorySegment.ofArray(new byte[] {1}));
        dma.writeInt(page, 5);
        assertEquals(5, h.ram.memory().readInt(page));
        IommuHarness noConfig = new IommuHarness(IommuConfig.DEFAULT, IommuHarness.ALL_FEATURES & ~IommuFeatures.BYPASS_CONFIG);
        IommuDmaSpace other = noConfig.endpoint(EP);
        noConfig.iommu.writeConfig(VirtioIommu.CONFIG_BYPASS, MemorySegment.ofArray(new byte[] {1}));
        assertThrows(DmaFault.class, () -> other.writeInt(page, 1));
    }

    @Test
    void row44_anEndpointTheVmmNeverPutBehindTheIommuFaultsAsUnknown() {
        IommuDmaSpace stranger = new IommuDmaSpace(h.iommu.domains(), 0x99, "stray", h.ram.dma(), h.reported::add);
        long event = h.offerEvent(24);
        assertThrows(DmaFault.class, () -> stranger.readInt(0x1000));
        assertEquals(IommuFault.Reason.UNKNOWN_ENDPOINT, h.reported.getLast().reason());
        assertEquals(0, h.ram.read(event, 1)[0] & 0xff, "this fault went only to the sink given");
    }

    @Test
    void row45_unmappedAndWrongPermissionAccessesAreDeniedWithRMappingAndTheDirection() {
        long page = pages(1);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, page, Mapping.READ));
        long first = h.offerEvent(24);
        long second = h.offerEvent(24);
        assertThrows(DmaFault.class, () -> dma.writeInt(0x10010, 1));
        assertThrows(DmaFault.class, () -> dma.readInt(0x20000));
        byte[] write = h.ram.read(first, 24);
        assertEquals(2, write[0]); // R_MAPPING
        assertEquals(RequestCodec.FAULT_F_ADDRESS | RequestCodec.FAULT_F_WRITE, IommuHarness.intAt(write, 4));
        assertEquals(0x10010, IommuHarness.longAt(write, 16));
        byte[] read = h.ram.read(second, 24);
        assertEquals(2, read[0]);
        assertEquals(RequestCodec.FAULT_F_ADDRESS | RequestCodec.FAULT_F_READ, IommuHarness.intAt(read, 4));
        assertEquals(0x20000, IommuHarness.longAt(read, 16));
        assertEquals(List.of(IommuFault.Reason.PERMISSION, IommuFault.Reason.UNMAPPED), h.reported.stream().map(IommuFault::reason).toList());
        assertEquals(OptionalLong.of(1), h.reported.getFirst().domain());
        assertEquals(0, h.ram.memory().readInt(page + 0x10));
    }

    @Test
    void row46_anAccessStartingInAMappingAndRunningPastItIsDeniedWholeAndMovesNothing() {
        long page = pages(1);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, page, Mapping.READ | Mapping.WRITE));
        byte[] data = new byte[64];
        java.util.Arrays.fill(data, (byte) 0x5a);
        DmaFault fault = assertThrows(DmaFault.class, () -> dma.write(0x10fe0, MemorySegment.ofArray(data)));
        assertEquals(0x10fe0, fault.address());
        assertEquals(0x11000, h.reported.getLast().address()); // the first byte out of reach
        assertArrayEquals(new byte[32], h.ram.read(page + 0xfe0, 32));
        assertThrows(DmaFault.class, () -> dma.readLong(0x10ffc)); // a value straddling the end
    }

    @Test
    void row46_anAccessOverIovaAdjacentMappingsWithScatteredPagesCopiesEachPieceToItsPage() throws Exception {
        long pages = pages(4);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, pages + 2 * PAGE, Mapping.READ | Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0x11000, 0x11fff, pages, Mapping.READ | Mapping.WRITE));
        byte[] data = new byte[2 * (int) PAGE];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        dma.write(0x10000, MemorySegment.ofArray(data));
        assertArrayEquals(java.util.Arrays.copyOf(data, 4096), h.ram.read(pages + 2 * PAGE, 4096));
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 4096, 8192), h.ram.read(pages, 4096));
        dma.writeInt(0x10ffe, 0x11223344); // straddles the two mappings
        assertEquals(0x11223344, dma.readInt(0x10ffe));
        byte[] back = new byte[data.length];
        dma.read(0x10000, MemorySegment.ofArray(back));
        assertEquals(0x3344, h.ram.memory().readShort(pages + 3 * PAGE - 2) & 0xffff);
    }

    @Test
    void translatedWritesReachTheEngineAsTheGuestPhysicalPiecesTheyWrote() throws Exception {
        List<List<Long>> heard = new java.util.ArrayList<>();
        IommuDmaSpace observed = h.iommu.dmaSpace(EP, "observed device",
                new io.vmguard.dma.GuestDmaSpace(h.ram.memory(), (address, length) -> heard.add(List.of(address, length))));
        long pages = pages(4);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, pages + 2 * PAGE, Mapping.READ | Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0x11000, 0x11fff, pages, Mapping.READ | Mapping.WRITE));
        observed.write(0x10ff0, MemorySegment.ofArray(new byte[32]));
        observed.writeInt(0x10ffe, 0x11223344); // straddles the two mappings: the buffered path
        observed.writeShort(0x11000, (short) 1);
        observed.readInt(0x10000);

        assertEquals(List.of(List.of(pages + 3 * PAGE - 16, 16L), List.of(pages, 16L),
                List.of(pages + 3 * PAGE - 2, 2L), List.of(pages, 2L), List.of(pages, 2L)), heard);
    }

    @Test
    void row46_anAccessOverAHoleOrAPieceWithoutPermissionIsDeniedWhole() {
        long pages = pages(3);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, pages, Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0x12000, 0x12fff, pages + 2 * PAGE, Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0x13000, 0x13fff, pages + PAGE, Mapping.READ));
        assertThrows(DmaFault.class, () -> dma.write(0x10f00, MemorySegment.ofArray(new byte[0x1200])));
        assertEquals(0x11000, h.reported.getLast().address());
        assertThrows(DmaFault.class, () -> dma.write(0x12f00, MemorySegment.ofArray(new byte[0x200])));
        assertEquals(IommuFault.Reason.PERMISSION, h.reported.getLast().reason());
        assertEquals(0x13000, h.reported.getLast().address());
    }

    @Test
    void row47_dmaIntoTheMsiWindowNeverReachesMemory() {
        assertEquals(Status.OK, h.attach(1, EP));
        assertThrows(DmaFault.class, () -> dma.writeInt(0xfee00000L, 0x41));
        assertEquals(IommuFault.Reason.UNMAPPED, h.reported.getLast().reason());
    }

    @Test
    void row48_aFaultWithNoEventBufferOrATooSmallOneIsDroppedAndCountedAndDmaStillFailsAtOnce() {
        assertThrows(DmaFault.class, () -> dma.readInt(0x1000));
        assertEquals(1, h.iommu.faultsDropped());
        long small = h.offerEvent(16);
        assertThrows(DmaFault.class, () -> dma.readInt(0x1000));
        assertEquals(2, h.iommu.faultsDropped());
        List<DriverRings.Used> used = h.events.takeUsed();
        assertEquals(List.of(new DriverRings.Used(used.getFirst().head(), 0)), used);
        assertArrayEquals(new byte[16], h.ram.read(small, 16));
        assertEquals(2, h.reported.size(), "the VMM hears of every fault");
        assertEquals(0, h.iommu.faultsPosted());
    }

    @Test
    void row49_hugeMapsAndUnmapsOverManyMappingsTakeOrderedMapOperationsNotPerPageWork() {
        IommuHarness big = new IommuHarness(new IommuConfig(0, -1, 0, 0xffff, 16, 1 << 20), IommuHarness.ALL_FEATURES);
        big.iommu.addEndpoint(EP);
        assertEquals(Status.OK, big.attach(1, EP));
        long start = System.nanoTime();
        assertEquals(Status.OK, big.map(1, 0x1_0000_0000L, -1, 0x1_0000_0000L, Mapping.READ)); // 2^64 - 4 GiB in one
        IommuDomains domains = big.iommu.domains();
        for (int i = 0; i < 50_000; i++) {
            assertEquals(Status.OK, domains.execute(new IommuRequest.Map(1, 0x10000L + 2 * PAGE * i, 0x10fffL + 2 * PAGE * i, 0, Mapping.READ)));
        }
        assertEquals(Status.OK, big.unmap(1, 0, -1));
        assertTrue(domains.domains().getFirst().mappings().isEmpty());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20));
    }

    @Test
    void row50_aTranslationCachedBeforeAnUnmapIsNeverUsedAfterTheUnmapCompletes() throws Exception {
        long page = pages(1);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, page, Mapping.READ | Mapping.WRITE));
        dma.writeInt(0x10000, 1);
        assertEquals(1, h.iommu.domains().endpoint(EP).cache().size());
        assertEquals(Status.OK, h.unmap(1, 0x10000, 0x10fff));
        assertEquals(0, h.iommu.domains().endpoint(EP).cache().size());
        assertThrows(DmaFault.class, () -> dma.writeInt(0x10000, 2));
        assertEquals(1, h.ram.memory().readInt(page));
    }

    @Test
    void row50_noAccessOnAnotherThreadLandsAfterTheUnmapOrDetachThatRemovedItsMappingReturns() throws Exception {
        long page = pages(1);
        h.iommu.addEndpoint(EP);
        for (int round = 0; round < 200; round++) {
            assertEquals(Status.OK, h.attach(1, EP));
            assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, page, Mapping.READ | Mapping.WRITE));
            h.ram.memory().writeLong(page, 0);
            AtomicBoolean removed = new AtomicBoolean();
            AtomicReference<Throwable> broken = new AtomicReference<>();
            AtomicLong writes = new AtomicLong();
            CountDownLatch running = new CountDownLatch(1);
            Thread device = Thread.ofPlatform().start(() -> {
                running.countDown();
                try {
                    while (true) {
                        // Once the removal has returned (flag set after), no write may succeed.
                        boolean after = removed.get();
                        MemorySegment value = MemorySegment.ofArray(new long[] {writes.incrementAndGet()});
                        dma.write(0x10000, value);
                        if (after) {
                            broken.set(new AssertionError("a write succeeded after the removal returned"));
                            return;
                        }
                    }
                } catch (DmaFault expected) {
                    // the mapping is gone
                } catch (Throwable t) {
                    broken.set(t);
                }
            });
            running.await();
            Thread.onSpinWait();
            boolean detach = round % 2 == 1;
            assertEquals(Status.OK, detach ? h.detach(1, EP) : h.unmap(1, 0x10000, 0x10fff));
            long atReturn = h.ram.memory().readLong(page);
            removed.set(true);
            device.join(5000);
            assertFalse(device.isAlive());
            if (broken.get() != null) {
                throw new AssertionError(broken.get());
            }
            assertEquals(atReturn, h.ram.memory().readLong(page), "memory changed after the " + (detach ? "DETACH" : "UNMAP") + " returned");
            if (!detach) {
                assertEquals(Status.OK, h.detach(1, EP));
            }
        }
    }

    @Test
    void identityDomainsReachGuestPhysicalAddressesAsTheyAre() throws Exception {
        long page = pages(1);
        assertEquals(Status.OK, h.status(attachBytes(7, EP, IommuRequest.F_BYPASS, 0)));
        dma.writeInt(page, 99);
        assertEquals(99, h.ram.memory().readInt(page));
    }

    @Test
    void aResetDropsEveryDomainSoNoEndpointKeepsDma() throws Exception {
        long page = pages(1);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, page, Mapping.READ | Mapping.WRITE));
        dma.writeInt(0x10000, 3);
        h.iommu.reset();
        assertThrows(DmaFault.class, () -> dma.writeInt(0x10000, 4));
        assertEquals(3, h.ram.memory().readInt(page));
    }

    @Test
    void typedAccessorsTranslateInsideAMappingAcrossTwoMappingsAndRefuseOutsideWithOneReport() throws Exception {
        long pages = pages(3);
        assertEquals(Status.OK, h.attach(1, EP));
        // IOVA 0x10000-0x10fff -> the third page, 0x11000-0x11fff -> the first: adjacent in IOVA, not in RAM.
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, pages + 2 * PAGE, Mapping.READ | Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0x11000, 0x11fff, pages, Mapping.READ));

        dma.writeInt(0x10010, 0x11223344);
        assertEquals(0x11223344, h.ram.memory().readInt(pages + 2 * PAGE + 0x10));
        assertEquals(0x11223344, dma.readInt(0x10010));
        dma.writeShort(0x10ffe, (short) 0x5566);
        assertEquals((short) 0x5566, dma.readShort(0x10ffe));

        h.ram.memory().writeInt(pages, 0x778899aa);
        // A long over the boundary: its low half from the third page's end, its high half from the first page.
        long expected = (0x778899aaL << 32) | (h.ram.memory().readInt(pages + 2 * PAGE + 0xffc) & 0xffffffffL);
        assertEquals(expected, dma.readLong(0x10ffc));

        int before = h.reported.size();
        assertThrows(DmaFault.class, () -> dma.writeInt(0x11000, 1), "the second mapping is read-only");
        assertThrows(DmaFault.class, () -> dma.readShort(0x11fff), "runs past the last mapping");
        assertEquals(before + 2, h.reported.size(), "each refused access reported once");
        assertEquals(0x778899aa, h.ram.memory().readInt(pages), "the refused write moved nothing");
    }
}
