package io.vmguard.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.pci.RecordingMsiSink.Message;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * MSI-X as Linux drives it: capability registers in config space, the vector table and PBA in a BAR,
 * masking at both levels, pending bits while masked, and delivery on unmask.
 */
class MsixCapabilityTest {
    private static final int BAR = 1;
    private static final long TABLE = 0x0, PBA = 0x800;
    private static final int CAP = 0x40;

    private final RecordingMsiSink sink = new RecordingMsiSink();
    private final MsixCapability msix = new MsixCapability(70, BAR, TABLE, BAR, PBA, sink);
    private final PciConfigSpace config = PciConfigSpace.builder(0x1af4, 0x1041)
            .bar(BAR, PciBar.memory32(0x1000))
            .capability(msix)
            .build();

    private long barRead(long offset, int width) {
        MemorySegment data = MemorySegment.ofArray(new byte[width]);
        assertTrue(msix.readBar(BAR, offset, data), "0x" + Long.toHexString(offset));
        return Bytes.load(data);
    }

    private void barWrite(long offset, int width, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[width]);
        Bytes.store(data, value);
        assertTrue(msix.writeBar(BAR, offset, data), "0x" + Long.toHexString(offset));
    }

    /** What Linux writes into an entry: address (destination APIC in bits 19:12) and data (vector). */
    private void program(int vector, long address, int data) {
        barWrite(TABLE + 16L * vector, 4, address);
        barWrite(TABLE + 16L * vector + 4, 4, address >>> 32);
        barWrite(TABLE + 16L * vector + 8, 4, data);
    }

    private void maskVector(int vector, boolean masked) {
        barWrite(TABLE + 16L * vector + 12, 4, masked ? 1 : 0);
    }

    private void control(int bits) {
        config.write(CAP + 2, 2, bits);
    }

    @Test
    void theCapabilityShowsTableSizeAndLocationsAndOnlyEnableAndMaskAreWritable() {
        assertEquals(0x0045_0011, config.read(CAP, 4), "ID 0x11, last in the list, table size 70 - 1");
        assertEquals(BAR, config.read(CAP + 4, 4), "table at offset 0 of BAR 1");
        assertEquals((int) PBA | BAR, config.read(CAP + 8, 4));
        config.write(CAP, 4, -1);
        config.write(CAP + 4, 4, -1);
        config.write(CAP + 8, 4, -1);
        assertEquals(0xc045_0011, config.read(CAP, 4), "enable and function mask set, the rest as it was");
        assertTrue(msix.enabled());
        assertTrue(msix.functionMasked());
        assertEquals(BAR, config.read(CAP + 4, 4));
        config.write(CAP + 3, 1, 0x80);
        assertFalse(msix.functionMasked());
    }

    @Test
    void entriesStartMaskedAndKeepOnlyTheirDefinedBits() {
        assertEquals(1, barRead(TABLE + 12, 4), "vector control: masked at reset");
        assertEquals(0, barRead(TABLE, 8), "address 0");
        barWrite(TABLE + 16 * 3, 8, 0x0000_0001_fee0_1003L);
        assertEquals(0x0000_0001_fee0_1000L, barRead(TABLE + 16 * 3, 8), "a qword write; address bits 1:0 read 0");
        barWrite(TABLE + 16 * 3 + 12, 4, 0xffff_fffe);
        assertEquals(0, barRead(TABLE + 16 * 3 + 12, 4), "only the mask bit exists");
        barWrite(TABLE + 16 * 3 + 9, 2, 0x4142);
        assertEquals(0x0041_4200, barRead(TABLE + 16 * 3 + 8, 4), "byte-granular writes land where they point");
    }

    @Test
    void nothingHappensWhileMsixIsDisabled() {
        program(0, 0xfee0_0000L, 0x41);
        maskVector(0, false);
        msix.signal(0);
        assertEquals(List.of(), sink.messages());
        assertFalse(msix.pending(0), "the device uses INTx then, not the PBA");
    }

    @Test
    void anUnmaskedVectorIsDeliveredAtOnceWithItsAddressAndData() {
        control(MsixCapability.CONTROL_ENABLE);
        program(5, 0xfee0_2000L, 0x4055);
        maskVector(5, false);
        msix.signal(5);
        msix.signal(5);
        assertEquals(List.of(new Message(0xfee0_2000L, 0x4055), new Message(0xfee0_2000L, 0x4055)), sink.messages());
        assertFalse(msix.pending(5));
    }

    @Test
    void aMaskedVectorBecomesPendingAndIsDeliveredOnceWhenUnmasked() {
        control(MsixCapability.CONTROL_ENABLE);
        program(66, 0xfee0_0000L, 0x61);
        msix.signal(66);
        msix.signal(66);
        assertEquals(List.of(), sink.messages());
        assertTrue(msix.pending(66));
        assertEquals(1L << 2, barRead(PBA + 8, 8), "PBA qword 1, bit 66 - 64");

        barWrite(PBA + 8, 8, 0);
        assertEquals(1L << 2, barRead(PBA + 8, 8), "the PBA is read-only");

        maskVector(66, false);
        assertEquals(List.of(new Message(0xfee0_0000L, 0x61)), sink.messages(), "one message for both signals");
        assertFalse(msix.pending(66));
        assertEquals(0, barRead(PBA + 8, 8));
    }

    @Test
    void theFunctionMaskHoldsEveryVectorAndReleasingItDeliversThePendingOnes() {
        // Linux's order: enable with the function masked, program and unmask entries, then unmask the function.
        control(MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_FUNCTION_MASK);
        program(1, 0xfee0_0000L, 0x51);
        program(2, 0xfee0_0000L, 0x52);
        program(3, 0xfee0_0000L, 0x53);
        maskVector(1, false);
        maskVector(2, false);
        msix.signal(2);
        msix.signal(1);
        msix.signal(3); // its own mask still holds it after the function mask goes
        assertEquals(List.of(), sink.messages());

        control(MsixCapability.CONTROL_ENABLE);
        assertEquals(List.of(new Message(0xfee0_0000L, 0x51), new Message(0xfee0_0000L, 0x52)), sink.messages());
        assertTrue(msix.pending(3));
        assertFalse(msix.pending(1));
    }

    @Test
    void vectorNumbersThatNameNoEntryAreIgnored() {
        control(MsixCapability.CONTROL_ENABLE);
        msix.signal(70);
        msix.signal(0xffff); // virtio's NO_VECTOR
        msix.signal(-1);
        assertEquals(List.of(), sink.messages());
    }

    @Test
    void barAccessesOutsideTheTableAndPbaAreTheDevicesOwn() {
        MemorySegment data = MemorySegment.ofArray(new byte[4]);
        assertFalse(msix.readBar(BAR, 70 * 16, data), "just past the table");
        assertFalse(msix.readBar(BAR, PBA + 16, data), "past the PBA's two qwords");
        assertFalse(msix.readBar(0, TABLE, data), "another BAR");
        assertFalse(msix.writeBar(BAR, 0x900, data));
        MemorySegment qword = MemorySegment.ofArray(new byte[8]);
        assertTrue(msix.readBar(BAR, 70 * 16 - 4, qword), "an access straddling the table's end is the table's");
        assertEquals(1, Bytes.load(qword), "the last vector control (masked), then 0 past the table");
    }

    @Test
    void impossibleLayoutsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new MsixCapability(0, 0, 0, 0, 0x800, sink));
        assertThrows(IllegalArgumentException.class, () -> new MsixCapability(2049, 0, 0, 0, 0x10000, sink));
        assertThrows(IllegalArgumentException.class, () -> new MsixCapability(4, 0, 4, 0, 0x800, sink), "BIR bits");
        assertThrows(IllegalArgumentException.class, () -> new MsixCapability(4, 0, 0, 0, 0x38, sink), "overlap");
        assertThrows(IllegalArgumentException.class, () -> new MsixCapability(4, 6, 0, 0, 0x800, sink));
    }
}
