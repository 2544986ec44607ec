package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Redirection entries, edge and level delivery with remote IRR, through IOREGSEL/IOWIN as a guest does. */
class IoApicTest {
    record Message(int destination, boolean logical, int deliveryMode, int vector, boolean level) {}

    private final List<Message> sent = new ArrayList<>();
    private final IoApic ioApic = new IoApic((destination, logical, mode, vector, level) ->
            sent.add(new Message(destination, logical, mode, vector, level)));

    private void write(int register, int value) {
        ioApic.mmioWrite(0x00, 4, register);
        ioApic.mmioWrite(0x10, 4, value);
    }

    private int read(int register) {
        ioApic.mmioWrite(0x00, 4, register);
        return (int) ioApic.mmioRead(0x10, 4);
    }

    /** Pin {@code pin}: vector, flags (mask 1<<16, level 1<<15, logical 1<<11, delivery mode << 8), destination. */
    private void program(int pin, int vector, int flags, int destination) {
        write(0x10 + 2 * pin + 1, destination << 24);
        write(0x10 + 2 * pin, vector | flags);
    }

    @Test
    void identificationRegistersAndResetMaskedEntries() {
        assertEquals(0x0017_0011, read(0x01), "version 0x11, 24 entries");
        write(0x00, 0x0300_0000);
        assertEquals(0x0300_0000, read(0x00), "ID");
        for (int pin = 0; pin < 24; pin++) {
            assertEquals(0x0001_0000, read(0x10 + 2 * pin), "entry " + pin + " masked at reset");
            assertEquals(0, read(0x11 + 2 * pin));
        }
        assertEquals(0x3fL, ioApic.mmioRead(0x00, 4), "IOREGSEL reads back");
        assertEquals(0xffff_ffff, read(0x40), "beyond the last entry");
    }

    @Test
    void anEdgeEntrySendsOncePerRisingEdge() {
        program(4, 0x34, 0, 0);
        ioApic.setIrq(4, true);
        ioApic.setIrq(4, true);
        ioApic.setIrq(4, false);
        ioApic.pulse(4);
        assertEquals(List.of(new Message(0, false, 0, 0x34, false), new Message(0, false, 0, 0x34, false)), sent);
    }

    @Test
    void aMaskedEdgeIsLostAndUnmaskingDoesNotReplayIt() {
        program(4, 0x34, 1 << 16, 0);
        ioApic.pulse(4);
        program(4, 0x34, 0, 0);
        assertEquals(List.of(), sent);
    }

    @Test
    void aLevelEntryWaitsForTheEoiAndResendsWhileTheLineIsStillHigh() {
        program(10, 0x3a, (1 << 15) | (1 << 11) | (1 << 8), 0x01); // level, logical, lowest priority, CPU bit 0
        ioApic.setIrq(10, true);
        Message message = new Message(0x01, true, 1, 0x3a, true);
        assertEquals(List.of(message), sent);
        assertTrue((read(0x10 + 20) & (1 << 14)) != 0, "remote IRR set");

        ioApic.setIrq(10, true);
        assertEquals(1, sent.size(), "nothing more until the EOI");
        ioApic.eoi(0x3a);
        assertEquals(List.of(message, message), sent, "still asserted: sent again");

        ioApic.setIrq(10, false);
        ioApic.eoi(0x3a);
        assertEquals(2, sent.size());
        assertEquals(0, read(0x10 + 20) & (1 << 14), "remote IRR clear");
        ioApic.eoi(0x3a);
        assertEquals(2, sent.size(), "an EOI for an idle vector does nothing");
    }

    @Test
    void unmaskingAnAssertedLevelEntrySendsIt() {
        program(16, 0x50, (1 << 15) | (1 << 16), 0);
        ioApic.setIrq(16, true);
        assertEquals(List.of(), sent);
        program(16, 0x50, 1 << 15, 0);
        assertEquals(List.of(new Message(0, false, 0, 0x50, true)), sent);
    }

    @Test
    void switchingAnEntryToEdgeClearsAStuckRemoteIrr() {
        program(3, 0x33, 1 << 15, 0);
        ioApic.setIrq(3, true);
        ioApic.setIrq(3, false);
        assertTrue((read(0x16) & (1 << 14)) != 0);
        program(3, 0x33, 0, 0);
        assertEquals(0, read(0x16) & (1 << 14), "as Linux expects of an I/O APIC without an EOI register");
    }

    @Test
    void remoteIrrAndDeliveryStatusCannotBeWritten() {
        write(0x10, 0x33 | (1 << 14) | (1 << 12));
        assertEquals(0x33, read(0x10));
    }
}
