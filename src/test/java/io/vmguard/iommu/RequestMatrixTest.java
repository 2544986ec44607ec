package io.vmguard.iommu;

import static io.vmguard.iommu.IommuHarness.attachBytes;
import static io.vmguard.iommu.IommuHarness.detachBytes;
import static io.vmguard.iommu.IommuHarness.head;
import static io.vmguard.iommu.IommuHarness.probeBytes;
import static io.vmguard.iommu.IommuHarness.unmapBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.dma.DmaFault;
import io.vmguard.testing.DriverRings;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * Rows 1-43 of the malformed-request matrix (research note iommu.md, section 4), one test each, named
 * by row: what the driver sends, and what must come back. Rows 44-50 (DMA) are in {@link DmaMatrixTest}.
 */
class RequestMatrixTest {
    static final int EP = 0x08; // 00:01.0
    static final int EP2 = 0x10; // 00:02.0
    static final long PAGE = 4096;

    private final IommuHarness h = new IommuHarness();

    private static byte[] filled(int length) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) 0xee);
        return bytes;
    }

    @Test
    void row01_aChainWithNoWritablePartOrLessThanFourWritableBytesGetsUsedLengthZeroAndIsNotWritten() {
        long in = h.ram.put(attachBytes(1, EP, 0, 0));
        h.requests.offer(DriverRings.Buffer.readable(in, 20));
        assertEquals(0, h.kickAndTake(in, 20).usedLength());
        IommuHarness.Reply reply = h.send(attachBytes(1, EP, 0, 0), 3);
        assertEquals(0, reply.usedLength());
        assertArrayEquals(filled(3), reply.written());
    }

    @Test
    void row02_aReadablePartShorterThanTheHeadGetsUsedLengthZero() {
        IommuHarness.Reply reply = h.send(new byte[] {1, 0, 0}, 4);
        assertEquals(0, reply.usedLength());
        assertArrayEquals(filled(4), reply.written());
    }

    @Test
    void row03_aBodyShorterThanItsTypesStructGetsInval() {
        for (int type = IommuRequest.ATTACH; type <= IommuRequest.PROBE; type++) {
            byte[] whole = head(type, RequestCodec.bodyBytes(type)).array();
            IommuHarness.Reply reply = h.send(Arrays.copyOf(whole, whole.length - 1), type == IommuRequest.PROBE ? IommuHarness.PROBE_REPLY : 4);
            assertTrue(reply.is(Status.INVAL), "type " + type);
        }
    }

    @Test
    void row04_unknownRequestTypesGetNoReplyAndUsedLengthZero() {
        for (int type : new int[] {0, 6, 7, 0x80, 255}) {
            IommuHarness.Reply reply = h.send(head(type, 32).array(), 4);
            assertEquals(0, reply.usedLength(), "type " + type);
            assertArrayEquals(filled(4), reply.written());
        }
    }

    @Test
    void row05_reservedBytesOfTheHeadAreIgnored() {
        h.iommu.addEndpoint(EP);
        byte[] request = attachBytes(1, EP, 0, 0);
        request[1] = 0x7f;
        request[3] = (byte) 0xff;
        assertEquals(Status.OK, h.status(request));
    }

    @Test
    void row06_descriptorsOutsideGuestRamGetUsedLengthZeroAndTheDeviceGoesOn() {
        h.iommu.addEndpoint(EP);
        long out = h.ram.alloc(4);
        h.requests.offer(DriverRings.Buffer.readable(h.ram.outside(), 20), DriverRings.Buffer.writable(out, 4));
        assertEquals(0, h.kickAndTake(out, 4).usedLength());
        long in = h.ram.put(attachBytes(1, EP, 0, 0));
        h.requests.offer(DriverRings.Buffer.readable(in, 20), DriverRings.Buffer.writable(h.ram.outside(), 4));
        assertEquals(0, h.kickAndTake(out, 4).usedLength());
        assertEquals(Status.OK, h.attach(1, EP));
        assertTrue(h.interrupt.failures().isEmpty());
    }

    @Test
    void row07_attachWithReservedBytesSetIsInval() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.INVAL, h.status(attachBytes(1, EP, 0, 1)));
        assertEquals(OptionalLong.empty(), h.iommu.domains().domainOf(EP));
    }

    @Test
    void row08_attachWithAnUnknownFlagOrBypassWithoutBypassConfigIsInval() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.INVAL, h.status(attachBytes(1, EP, 2, 0)));
        IommuHarness plain = new IommuHarness(IommuConfig.DEFAULT, IommuHarness.ALL_FEATURES & ~IommuFeatures.BYPASS_CONFIG);
        plain.iommu.addEndpoint(EP);
        assertEquals(Status.INVAL, plain.status(attachBytes(1, EP, IommuRequest.F_BYPASS, 0)));
        assertEquals(Status.OK, h.status(attachBytes(1, EP, IommuRequest.F_BYPASS, 0)));
    }

    @Test
    void row09_attachOfAnUnknownEndpointIsNoent() {
        assertEquals(Status.NOENT, h.attach(1, 0x1234));
    }

    @Test
    void row10_attachWhoseBypassFlagDisagreesWithTheExistingDomainIsInval() {
        h.iommu.addEndpoint(EP);
        h.iommu.addEndpoint(EP2);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.INVAL, h.status(attachBytes(1, EP2, IommuRequest.F_BYPASS, 0)));
        assertEquals(Status.OK, h.status(attachBytes(2, EP2, IommuRequest.F_BYPASS, 0)));
        assertEquals(Status.INVAL, h.attach(2, EP));
    }

    @Test
    void row11_attachOfAnEndpointInAnotherDomainMovesItAndDropsTheOldDomainWhenEmpty() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0x20000, Mapping.READ));
        assertEquals(Status.OK, h.attach(2, EP));
        assertEquals(OptionalLong.of(2), h.iommu.domains().domainOf(EP));
        assertEquals(List.of(2), h.iommu.domains().domains().stream().map(IommuDomains.DomainView::id).toList());
        assertEquals(Status.NOENT, h.map(1, 0x20000, 0x20fff, 0, Mapping.READ));
    }

    @Test
    void row12_attachToTheSameDomainAgainIsOkAndChangesNothing() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0x20000, Mapping.READ));
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(1, h.iommu.domains().domains().getFirst().mappings().size());
    }

    @Test
    void row13_endpointsCanAlwaysShareADomainSoAttachNeverAnswersUnsupp() {
        h.iommu.addEndpoint(EP);
        h.iommu.addEndpoint(EP2);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.attach(1, EP2));
        assertEquals(List.of(EP, EP2), h.iommu.domains().domains().getFirst().endpoints());
    }

    @Test
    void row14_aDomainIdOutsideDomainRangeIsRange() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.RANGE, h.attach(0x10000, EP));
        assertEquals(Status.RANGE, h.attach(-1, EP));
        assertEquals(Status.OK, h.attach(0xffff, EP));
    }

    @Test
    void row15_aFullDomainTableIsNomem() {
        IommuHarness small = new IommuHarness(new IommuConfig(0, (1L << 48) - 1, 0, 0xffff, 2, 16), IommuHarness.ALL_FEATURES);
        for (int endpoint = 1; endpoint <= 3; endpoint++) {
            small.iommu.addEndpoint(endpoint);
        }
        assertEquals(Status.OK, small.attach(1, 1));
        assertEquals(Status.OK, small.attach(2, 2));
        assertEquals(Status.NOMEM, small.attach(3, 3));
        assertEquals(Status.OK, small.attach(1, 3)); // an existing domain still takes endpoints
        assertEquals(Status.OK, small.attach(4, 2)); // moving the last endpoint out frees its slot
    }

    @Test
    void row16_detachOfAnUnknownEndpointIsNoent() {
        assertEquals(Status.NOENT, h.detach(1, 0x4321));
    }

    @Test
    void row17_detachFromTheWrongOrAMissingDomainIsInval() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.INVAL, h.detach(1, EP));
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.INVAL, h.detach(2, EP));
        assertEquals(Status.INVAL, h.status(detachBytes(1, EP, 1)));
        assertEquals(Status.OK, h.detach(1, EP));
    }

    @Test
    void row18_afterDetachTheEndpointKeepsNoAccessAndTheDomainWithItsMappingsIsGone() throws Exception {
        IommuDmaSpace dma = h.endpoint(EP);
        long page = pages(1);
        assertEquals(Status.OK, h.attach(1, EP));
        assertEquals(Status.OK, h.map(1, 0x40000, 0x40fff, page, Mapping.READ | Mapping.WRITE));
        dma.writeInt(0x40000, 42); // now cached
        assertEquals(Status.OK, h.detach(1, EP));
        assertThrows(DmaFault.class, () -> dma.readInt(0x40000));
        assertEquals(IommuFault.Reason.NOT_ATTACHED, h.reported.getLast().reason());
        assertTrue(h.iommu.domains().domains().isEmpty());
        assertEquals(Status.OK, h.attach(1, EP)); // the driver replays its mappings: none are left here
        assertThrows(DmaFault.class, () -> dma.readInt(0x40000));
        assertEquals(IommuFault.Reason.UNMAPPED, h.reported.getLast().reason());
    }

    @Test
    void row19_mapWithAnUnalignedStartPhysicalStartOrEndIsRange() {
        attached();
        assertEquals(Status.RANGE, h.map(1, 0x10800, 0x11fff, 0x20000, Mapping.READ));
        assertEquals(Status.RANGE, h.map(1, 0x10000, 0x10fff, 0x20800, Mapping.READ));
        assertEquals(Status.RANGE, h.map(1, 0x10000, 0x10ffe, 0x20000, Mapping.READ));
        assertTrue(h.iommu.domains().domains().getFirst().mappings().isEmpty());
    }

    @Test
    void row20_mapWithTheEndBeforeTheStartIsRange() {
        attached();
        assertEquals(Status.RANGE, h.map(1, 0x20000, 0x10fff, 0, Mapping.READ));
        assertEquals(Status.RANGE, h.map(1, 0x20000, 0x20000, 0, Mapping.READ));
    }

    @Test
    void row21_mapWhosePhysicalRangeWrapsPast2To64IsRange() {
        IommuHarness full = fullInputRange();
        assertEquals(Status.RANGE, full.map(1, 0x10000, 0x11fff, -PAGE, Mapping.READ));
        assertEquals(Status.RANGE, full.map(1, 0, -1, PAGE, Mapping.READ));
        assertEquals(Status.OK, full.map(1, 0x10000, 0x10fff, -PAGE, Mapping.READ)); // ends exactly at 2^64 - 1
    }

    @Test
    void row22_mapEndingAt2To64MinusOneWorksWithoutComputingItsSize() throws Exception {
        IommuHarness full = fullInputRange();
        IommuDmaSpace dma = full.endpoint(EP);
        long page = full.ram.alloc(2 * PAGE) + PAGE & -PAGE;
        assertEquals(Status.OK, full.map(1, -PAGE, -1, page, Mapping.READ | Mapping.WRITE));
        dma.writeInt(-4, 0x1234_5678);
        assertEquals(0x1234_5678, full.ram.memory().readInt(page + PAGE - 4));
        assertThrows(DmaFault.class, () -> dma.readLong(-4)); // would wrap to address 0
        // Linux's identity domain without BYPASS_CONFIG: everything above the MSI window, in one MAP.
        assertEquals(Status.OK, full.map(1, 0x1_0000_0000L, -PAGE - 1, 0x1_0000_0000L, Mapping.READ));
    }

    @Test
    void row23_mapOutsideInputRangeIsRange() {
        attached();
        assertEquals(Status.RANGE, h.map(1, 1L << 48, (1L << 48) + PAGE - 1, 0, Mapping.READ));
        assertEquals(Status.RANGE, h.map(1, (1L << 48) - PAGE, (1L << 48) + PAGE - 1, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, (1L << 48) - PAGE, (1L << 48) - 1, 0, Mapping.READ));
    }

    @Test
    void row24_mapOverlappingAnExistingMappingIsInval() {
        attached();
        assertEquals(Status.OK, h.map(1, 0x10000, 0x13fff, 0, Mapping.READ));
        assertEquals(Status.INVAL, h.map(1, 0x10000, 0x10fff, 0, Mapping.READ)); // same start
        assertEquals(Status.INVAL, h.map(1, 0x0f000, 0x10fff, 0, Mapping.READ)); // runs into it
        assertEquals(Status.INVAL, h.map(1, 0x13000, 0x14fff, 0, Mapping.READ)); // starts inside
        assertEquals(Status.INVAL, h.map(1, 0x0f000, 0x14fff, 0, Mapping.READ)); // contains it
        assertEquals(Status.INVAL, h.map(1, 0x11000, 0x11fff, 0, Mapping.READ)); // inside it
        assertEquals(Status.OK, h.map(1, 0x0f000, 0x0ffff, 0, Mapping.READ)); // adjacent below
        assertEquals(Status.OK, h.map(1, 0x14000, 0x14fff, 0, Mapping.READ)); // adjacent above
    }

    @Test
    void row25_mapWithUnknownFlagsOrMmioWithoutTheMmioFeatureIsInval() {
        attached();
        assertEquals(Status.INVAL, h.map(1, 0x10000, 0x10fff, 0, 8));
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0, Mapping.MMIO | Mapping.WRITE));
        IommuHarness noMmio = new IommuHarness(IommuConfig.DEFAULT, IommuHarness.ALL_FEATURES & ~IommuFeatures.MMIO);
        noMmio.iommu.addEndpoint(EP);
        assertEquals(Status.OK, noMmio.attach(1, EP));
        assertEquals(Status.INVAL, noMmio.map(1, 0x10000, 0x10fff, 0, Mapping.MMIO | Mapping.WRITE));
    }

    @Test
    void row26_mapWithNoFlagsOrWriteOnlyIsAcceptedAndEachAccessNeedsItsPermission() throws Exception {
        IommuDmaSpace dma = h.endpoint(EP);
        assertEquals(Status.OK, h.attach(1, EP));
        long page = pages(3);
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, page, 0));
        assertEquals(Status.OK, h.map(1, 0x20000, 0x20fff, page + PAGE, Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0x30000, 0x30fff, page + 2 * PAGE, Mapping.READ));
        assertThrows(DmaFault.class, () -> dma.readInt(0x10000));
        assertThrows(DmaFault.class, () -> dma.writeInt(0x10000, 1));
        dma.writeInt(0x20000, 7);
        assertThrows(DmaFault.class, () -> dma.readInt(0x20000));
        assertThrows(DmaFault.class, () -> dma.writeInt(0x30000, 1));
        assertEquals(0, dma.readInt(0x30000));
        assertEquals(IommuFault.Reason.PERMISSION, h.reported.getLast().reason());
    }

    @Test
    void row27_mapOnAMissingDomainIsNoent() {
        assertEquals(Status.NOENT, h.map(9, 0x10000, 0x10fff, 0, Mapping.READ));
    }

    @Test
    void row28_mapOnABypassDomainIsInval() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.OK, h.status(attachBytes(1, EP, IommuRequest.F_BYPASS, 0)));
        assertEquals(Status.INVAL, h.map(1, 0x10000, 0x10fff, 0, Mapping.READ));
    }

    @Test
    void row29_mapOverlappingTheReservedMsiWindowIsInval() {
        attached();
        assertEquals(Status.INVAL, h.map(1, 0xfee00000L, 0xfee00fffL, 0, Mapping.WRITE));
        assertEquals(Status.INVAL, h.map(1, 0xfed00000L, 0xfee00fffL, 0, Mapping.WRITE));
        assertEquals(Status.INVAL, h.map(1, 0xfeeff000L, 0xfef00fffL, 0, Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0xfed00000L, 0xfedfffffL, 0, Mapping.WRITE));
        assertEquals(Status.OK, h.map(1, 0xfef00000L, 0xfef00fffL, 0, Mapping.WRITE));
    }

    @Test
    void row30_mapOfPhysicalAddressesOutsideRamIsAcceptedAndAccessesFaultCleanly() {
        IommuDmaSpace dma = h.endpoint(EP);
        assertEquals(Status.OK, h.attach(1, EP));
        long outside = h.ram.outside() & -PAGE;
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, outside, Mapping.READ | Mapping.WRITE));
        assertThrows(DmaFault.class, () -> dma.writeInt(0x10000, 1));
        assertThrows(DmaFault.class, () -> dma.readInt(0x10ffc));
    }

    @Test
    void row31_aFullMappingTableIsNomem() {
        IommuHarness small = new IommuHarness(new IommuConfig(0, (1L << 48) - 1, 0, 0xffff, 16, 3), IommuHarness.ALL_FEATURES);
        small.iommu.addEndpoint(EP);
        assertEquals(Status.OK, small.attach(1, EP));
        for (int i = 0; i < 3; i++) {
            assertEquals(Status.OK, small.map(1, 0x10000 + i * PAGE, 0x10fff + i * PAGE, 0, Mapping.READ));
        }
        assertEquals(Status.NOMEM, small.map(1, 0x20000, 0x20fff, 0, Mapping.READ));
        assertEquals(Status.OK, small.unmap(1, 0x10000, 0x10fff));
        assertEquals(Status.OK, small.map(1, 0x20000, 0x20fff, 0, Mapping.READ));
    }

    @Test
    void row32_unmapCoveringNothingIsOk() {
        attached();
        assertEquals(Status.OK, h.unmap(1, 0x10000, 0x1ffff));
    }

    @Test
    void row33_unmapThatWouldSplitAMappingIsRangeAndRemovesNothing() {
        attached();
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, 0x20000, 0x23fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, 0x30000, 0x30fff, 0, Mapping.READ));
        // The first mapping lies wholly inside, but the end cuts the second: nothing goes (QEMU removed the first).
        assertEquals(Status.RANGE, h.unmap(1, 0x10000, 0x21fff));
        assertEquals(Status.RANGE, h.unmap(1, 0x22000, 0x30fff)); // the start cuts the second
        assertEquals(Status.RANGE, h.unmap(1, 0x21000, 0x21fff)); // inside the second
        assertEquals(3, h.iommu.domains().domains().getFirst().mappings().size());
    }

    @Test
    void row34_unmapSpanningSeveralMappingsWithHolesRemovesAllOfThem() {
        attached();
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, 0x20000, 0x23fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, 0x30000, 0x30fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, 0x40000, 0x40fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.unmap(1, 0x0f000, 0x30fff));
        assertEquals(List.of(0x40000L), h.iommu.domains().domains().getFirst().mappings().stream().map(Mapping::virtStart).toList());
    }

    @Test
    void row35_unmapOnAMissingDomainIsNoent() {
        assertEquals(Status.NOENT, h.unmap(3, 0, 0xfff));
    }

    @Test
    void row36_unmapOnABypassDomainIsInval() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.OK, h.status(attachBytes(1, EP, IommuRequest.F_BYPASS, 0)));
        assertEquals(Status.INVAL, h.unmap(1, 0, 0xfff));
    }

    @Test
    void row37_unmapWithReservedBytesSetIsInvalAndUnmapsNothing() {
        attached();
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0, Mapping.READ));
        assertEquals(Status.INVAL, h.status(unmapBytes(1, 0x10000, 0x10fff, 1)));
        assertEquals(1, h.iommu.domains().domains().getFirst().mappings().size());
    }

    @Test
    void row38_unmapOfTheWholeSpaceRemovesEverythingAndAnInvertedRangeIsRange() {
        attached();
        assertEquals(Status.OK, h.map(1, 0x10000, 0x10fff, 0, Mapping.READ));
        assertEquals(Status.OK, h.map(1, (1L << 48) - PAGE, (1L << 48) - 1, 0, Mapping.READ));
        assertEquals(Status.RANGE, h.unmap(1, 0x20000, 0x1ffff - PAGE));
        assertEquals(Status.OK, h.unmap(1, 0, -1));
        assertTrue(h.iommu.domains().domains().getFirst().mappings().isEmpty());
    }

    @Test
    void row39_probeOfAnUnknownEndpointIsNoent() {
        IommuHarness.Reply reply = h.send(probeBytes(0x777), IommuHarness.PROBE_REPLY);
        assertTrue(reply.is(Status.NOENT));
    }

    @Test
    void row40_probeWithLessThanProbeSizePlusFourWritableBytesWritesNoPropertyAndIsInval() {
        h.iommu.addEndpoint(EP);
        IommuHarness.Reply reply = h.send(probeBytes(EP), IommuHarness.PROBE_REPLY - 1);
        assertTrue(reply.is(Status.INVAL));
        assertArrayEquals(new byte[IommuHarness.PROBE_REPLY - 5], Arrays.copyOf(reply.written(), IommuHarness.PROBE_REPLY - 5));
    }

    @Test
    void row41_probeWithoutThePROBEFeatureGetsNoReply() {
        IommuHarness noProbe = new IommuHarness(IommuConfig.DEFAULT, IommuHarness.ALL_FEATURES & ~IommuFeatures.PROBE);
        noProbe.iommu.addEndpoint(EP);
        IommuHarness.Reply reply = noProbe.send(probeBytes(EP), IommuHarness.PROBE_REPLY);
        assertEquals(0, reply.usedLength());
        assertArrayEquals(filled(IommuHarness.PROBE_REPLY), reply.written());
    }

    @Test
    void row42_probeAnswersTheMsiWindowAsOneResvMemPropertyAndZeroFillsTheRest() {
        h.iommu.addEndpoint(EP);
        IommuHarness.Reply reply = h.send(probeBytes(EP), IommuHarness.PROBE_REPLY);
        assertEquals(IommuHarness.PROBE_REPLY, reply.usedLength());
        assertTrue(reply.is(Status.OK));
        byte[] w = reply.written();
        assertEquals(1, IommuHarness.shortAt(w, 0)); // VIRTIO_IOMMU_PROBE_T_RESV_MEM
        assertEquals(20, IommuHarness.shortAt(w, 2)); // length without the 4-byte header
        assertEquals(1, w[4]); // VIRTIO_IOMMU_RESV_MEM_T_MSI
        assertEquals(0xfee00000L, IommuHarness.longAt(w, 8));
        assertEquals(0xfeefffffL, IommuHarness.longAt(w, 16));
        // The next property would start at +length+4 = 24: zero, the end of the list; all padding is zero.
        assertArrayEquals(new byte[RequestHandler.PROBE_SIZE - 24], Arrays.copyOfRange(w, 24, RequestHandler.PROBE_SIZE));
    }

    @Test
    void row43_configWritesOtherThanABypassOfZeroOrOneAreIgnored() {
        MemorySegment before = config(h.iommu);
        h.iommu.writeConfig(0, MemorySegment.ofArray(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
        h.iommu.writeConfig(VirtioIommu.CONFIG_BYPASS, MemorySegment.ofArray(new byte[] {2}));
        h.iommu.writeConfig(VirtioIommu.CONFIG_BYPASS, MemorySegment.ofArray(new byte[] {1, 0, 0, 0}));
        assertArrayEquals(before.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), config(h.iommu).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        h.iommu.writeConfig(VirtioIommu.CONFIG_BYPASS, MemorySegment.ofArray(new byte[] {1}));
        assertEquals(1, config(h.iommu).get(java.lang.foreign.ValueLayout.JAVA_BYTE, VirtioIommu.CONFIG_BYPASS));
    }

    @Test
    void configurationSpaceHasTheSpecLayoutWithBypassOffAndA4KiBGranule() {
        MemorySegment config = config(h.iommu);
        byte[] bytes = config.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        assertEquals(0xfffffffffffff000L, IommuHarness.longAt(bytes, 0));
        assertEquals(0, IommuHarness.longAt(bytes, 8));
        assertEquals((1L << 48) - 1, IommuHarness.longAt(bytes, 16));
        assertEquals(0, IommuHarness.intAt(bytes, 24));
        assertEquals(0xffff, IommuHarness.intAt(bytes, 28));
        assertEquals(RequestHandler.PROBE_SIZE, IommuHarness.intAt(bytes, 32));
        assertEquals(0, bytes[36]);
        assertEquals(IommuFeatures.OFFERED, h.iommu.features());
        assertEquals(23, h.iommu.type().id());
    }

    private static MemorySegment config(VirtioIommu iommu) {
        MemorySegment config = MemorySegment.ofArray(new byte[VirtioIommu.CONFIG_BYTES]);
        iommu.readConfig(0, config);
        return config;
    }

    private void attached() {
        h.iommu.addEndpoint(EP);
        assertEquals(Status.OK, h.attach(1, EP));
    }

    /** {@code count} fresh 4 KiB-aligned pages of the harness's RAM. */
    private long pages(int count) {
        return h.ram.alloc((count + 1) * PAGE) + PAGE - 1 & -PAGE;
    }

    private static IommuHarness fullInputRange() {
        IommuHarness full = new IommuHarness(new IommuConfig(0, -1, 0, 0xffff, 16, 16), IommuHarness.ALL_FEATURES);
        full.iommu.addEndpoint(EP);
        assertEquals(Status.OK, full.attach(1, EP));
        return full;
    }
}
