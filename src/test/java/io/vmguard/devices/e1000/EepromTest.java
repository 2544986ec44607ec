package io.vmguard.devices.e1000;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.MacAddress;
import org.junit.jupiter.api.Test;

/** The EEPROM read the way Linux's e1000 reads an 82540 (e1000_hw.c), and through EERD. */
class EepromTest {
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");

    /** Linux's e1000_read_eeprom for a Microwire part, bit by bit: acquire, select, opcode, address, 16 bits out. */
    static int linuxRead(Eeprom eeprom, int word) {
        int eecd = eeprom.readEecd();
        eeprom.writeEecd(eecd | Eeprom.EECD_REQ); // e1000_acquire_eeprom
        eecd = eeprom.readEecd();
        assertTrue((eecd & Eeprom.EECD_GNT) != 0, "access is granted");
        eecd &= ~(Eeprom.EECD_DI | Eeprom.EECD_SK);
        eeprom.writeEecd(eecd);
        eecd |= Eeprom.EECD_CS;
        eeprom.writeEecd(eecd);
        eecd = shiftOut(eeprom, eecd, 0b110, 3); // EEPROM_READ_OPCODE_MICROWIRE
        eecd = shiftOut(eeprom, eecd, word, 6);
        int data = 0;
        eecd &= ~(Eeprom.EECD_DO | Eeprom.EECD_DI);
        for (int i = 0; i < 16; i++) { // e1000_shift_in_ee_bits
            data <<= 1;
            eecd |= Eeprom.EECD_SK;
            eeprom.writeEecd(eecd);
            eecd = eeprom.readEecd() & ~Eeprom.EECD_DI;
            if ((eecd & Eeprom.EECD_DO) != 0) {
                data |= 1;
            }
            eecd &= ~Eeprom.EECD_SK;
            eeprom.writeEecd(eecd);
        }
        eecd &= ~(Eeprom.EECD_CS | Eeprom.EECD_SK); // e1000_standby_eeprom / release
        eeprom.writeEecd(eecd);
        eeprom.writeEecd(eecd & ~Eeprom.EECD_REQ);
        return data;
    }

    private static int shiftOut(Eeprom eeprom, int eecd, int data, int count) {
        for (int mask = 1 << (count - 1); mask != 0; mask >>>= 1) {
            eecd = (data & mask) != 0 ? eecd | Eeprom.EECD_DI : eecd & ~Eeprom.EECD_DI;
            eeprom.writeEecd(eecd);
            eeprom.writeEecd(eecd | Eeprom.EECD_SK);
            eeprom.writeEecd(eecd);
        }
        return eecd & ~Eeprom.EECD_DI;
    }

    @Test
    void linuxsBitBangedReadReturnsEveryWordAndTheyChecksumToBaba() {
        Eeprom eeprom = new Eeprom(MAC);
        int sum = 0;
        for (int word = 0; word < Eeprom.WORDS; word++) {
            int value = linuxRead(eeprom, word);
            assertEquals(eeprom.word(word), value, "word " + word);
            sum += value;
        }
        assertEquals(0xbaba, sum & 0xffff, "e1000_validate_eeprom_checksum");
    }

    @Test
    void theMacSitsInWordsZeroToTwoLowByteFirst() {
        Eeprom eeprom = new Eeprom(MAC);
        assertEquals(0x5452, linuxRead(eeprom, 0));
        assertEquals(0x1200, linuxRead(eeprom, 1));
        assertEquals(0x5634, linuxRead(eeprom, 2));
        assertEquals(E1000.DEVICE_ID, linuxRead(eeprom, 0x0d), "device ID word");
        assertEquals(0x8086, linuxRead(eeprom, 0x0e), "vendor ID word");
    }

    @Test
    void eerdReturnsTheAddressedWordWithDone() {
        Eeprom eeprom = new Eeprom(MAC);
        int value = eeprom.eerd(Eeprom.EERD_START | 1 << Eeprom.EERD_ADDR_SHIFT);
        assertTrue((value & Eeprom.EERD_DONE) != 0);
        assertEquals(0x1200, value >>> Eeprom.EERD_DATA_SHIFT);
        assertEquals(0, eeprom.eerd(0) & Eeprom.EERD_DONE, "no start, no read");
    }

    @Test
    void aCommandOtherThanReadLeavesDataOutIdleHigh() {
        Eeprom eeprom = new Eeprom(MacAddress.parse("02:00:00:00:00:01"));
        int eecd = Eeprom.EECD_REQ | Eeprom.EECD_CS;
        eeprom.writeEecd(eecd);
        eecd = shiftOut(eeprom, eecd, 0b101, 3); // ERASE: not implemented, nothing comes out
        shiftOut(eeprom, eecd, 0, 6);
        assertTrue((eeprom.readEecd() & Eeprom.EECD_DO) != 0);
        assertEquals(Eeprom.EECD_PRES | Eeprom.EECD_GNT, eeprom.readEecd() & (Eeprom.EECD_PRES | Eeprom.EECD_GNT));
    }
}
