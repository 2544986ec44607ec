package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CmosRtcTest {
    private static final int INDEX = 0x70;
    private static final int DATA = 0x71;
    /** A Saturday evening. */
    private static final Clock FIXED = Clock.fixed(Instant.parse("2024-03-09T21:07:05Z"), ZoneOffset.UTC);

    private final PortIo io = new PortIo();

    @BeforeEach
    void registerAtTheRealPorts() {
        io.bus.register(CmosRtc.PORTS, new CmosRtc(FIXED));
    }

    private int read(int register) {
        io.outb(INDEX, register);
        return io.inb(DATA);
    }

    private void write(int register, int value) {
        io.outb(INDEX, register);
        io.outb(DATA, value);
    }

    @Test
    void readsTheClockInBcdByDefault() {
        assertEquals(0x05, read(0x00));
        assertEquals(0x07, read(0x02));
        assertEquals(0x21, read(0x04));
        assertEquals(0x07, read(0x06), "Saturday; Sunday is 1");
        assertEquals(0x09, read(0x07));
        assertEquals(0x03, read(0x08));
        assertEquals(0x24, read(0x09));
        assertEquals(0x20, read(0x32));
    }

    @Test
    void readsTheClockInBinaryWhenRegisterBSaysSo() {
        write(0x0b, 0x06);
        assertEquals(5, read(0x00));
        assertEquals(7, read(0x02));
        assertEquals(21, read(0x04));
        assertEquals(9, read(0x07));
        assertEquals(3, read(0x08));
        assertEquals(24, read(0x09));
        assertEquals(20, read(0x32));
    }

    @Test
    void twelveHourModeMarksTheAfternoon() {
        write(0x0b, 0x00);
        assertEquals(0x89, read(0x04));
    }

    @Test
    void statusRegistersSayTimeIsValidAndNeverUpdating() {
        assertEquals(0x26, read(0x0a));
        assertEquals(0x02, read(0x0b));
        assertEquals(0x00, read(0x0c));
        assertEquals(0x80, read(0x0d));
        write(0x0a, 0xa6); // UIP is read-only
        assertEquals(0x26, read(0x0a));
    }

    @Test
    void nmiMaskBitOfTheIndexIsIgnored() {
        assertEquals(0x05, read(0x80));
    }

    @Test
    void timeWritesAreIgnored() {
        write(0x00, 0x59);
        write(0x32, 0x19);
        assertEquals(0x05, read(0x00));
        assertEquals(0x20, read(0x32));
    }

    @Test
    void otherBytesArePlainRam() {
        write(0x40, 0x5a);
        write(0x7f, 0xff);
        assertEquals(0x5a, read(0x40));
        assertEquals(0xff, read(0x7f));
    }

    @Test
    void aWordWriteToTheIndexPortSetsIndexThenData() {
        io.outw(INDEX, 0x3c40);
        assertEquals(0x3c, read(0x40));
    }

    @Test
    void followsTheClocksZone() {
        PortIo local = new PortIo();
        local.bus.register(CmosRtc.PORTS, new CmosRtc(FIXED.withZone(ZoneOffset.ofHours(5))));
        local.outb(INDEX, 0x04);
        assertEquals(0x02, local.inb(DATA));
        local.outb(INDEX, 0x07);
        assertEquals(0x10, local.inb(DATA));
    }
}
