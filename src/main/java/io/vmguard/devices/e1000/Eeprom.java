package io.vmguard.devices.e1000;

import io.vmguard.net.MacAddress;

/**
 * The 82540EM's 64-word Microwire EEPROM (a 93C46) and its two doors: bit-banged through EECD, which is how
 * Linux's e1000 driver reads an 82540 ({@code e1000_read_eeprom}: request, wait for grant, chip select, the
 * 3-bit READ opcode 110b and a 6-bit address clocked in on SK rising edges, 16 data bits clocked out MSB
 * first on DO), and the EERD register (start bit, address, done bit and data), which later parts use.
 *
 * <p>Contents: the MAC address in words 0-2 (byte pairs, low byte first), IDs and settings as QEMU's
 * template for the 82540EM ({@code hw/net/e1000.c}), and word 0x3f chosen so the 64 words sum to 0xBABA,
 * without which the driver refuses the card ("The EEPROM Checksum Is Not Valid"). Reads past word 63 wrap,
 * as the part's address counter does. Not thread-safe: the device calls it under its lock.
 */
final class Eeprom {
    static final int WORDS = 64;
    static final int CHECKSUM_WORD = 0x3f;
    static final int CHECKSUM_SUM = 0xbaba;

    static final int EECD_SK = 1, EECD_CS = 1 << 1, EECD_DI = 1 << 2, EECD_DO = 1 << 3, EECD_REQ = 1 << 6,
            EECD_GNT = 1 << 7, EECD_PRES = 1 << 8;
    /** What a write to EECD keeps: clock, select, data in, the two flash-write-enable bits and request. */
    private static final int EECD_WRITABLE = EECD_SK | EECD_CS | EECD_DI | 0x30 | EECD_REQ;
    private static final int READ_OPCODE = 0b110;
    /** Opcode and address bits before data comes out: 3 + 6. */
    private static final int COMMAND_BITS = 9;

    static final int EERD_START = 1, EERD_DONE = 1 << 4, EERD_ADDR_SHIFT = 8, EERD_DATA_SHIFT = 16;

    private static final int[] TEMPLATE = {
        0x0000, 0x0000, 0x0000, 0x0000, 0xffff, 0x0000, 0x0000, 0x0000,
        0x3000, 0x1000, 0x6403, E1000.DEVICE_ID, 0x8086, E1000.DEVICE_ID, 0x8086, 0x3040,
        0x0008, 0x2000, 0x7e14, 0x0048, 0x1000, 0x00d8, 0x0000, 0x2700,
        0x6cc9, 0x3150, 0x0722, 0x040b, 0x0984, 0x0000, 0xc000, 0x0706,
        0x1008, 0x0000, 0x0f04, 0x7fff, 0x4d01, 0xffff, 0xffff, 0xffff,
        0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
        0x0100, 0x4000, 0x121c, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
        0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0x0000,
    };

    private final int[] words;
    /** EECD as last written (the writable bits). */
    private int eecd;
    private int shiftIn;
    private int bitsIn;
    private boolean reading;
    /** The bit DO shows while reading: word * 16 + bit from the MSB. */
    private int bitOut;

    Eeprom(MacAddress mac) {
        words = TEMPLATE.clone();
        byte[] bytes = mac.bytes();
        for (int i = 0; i < 3; i++) {
            words[i] = (bytes[2 * i] & 0xff) | (bytes[2 * i + 1] & 0xff) << 8;
        }
        int sum = 0;
        for (int i = 0; i < CHECKSUM_WORD; i++) {
            sum += words[i];
        }
        words[CHECKSUM_WORD] = (CHECKSUM_SUM - sum) & 0xffff;
    }

    int word(int index) {
        return words[index & (WORDS - 1)];
    }

    /** EECD as the guest reads it: the part is present and access is always granted. */
    int readEecd() {
        int value = eecd | EECD_PRES | EECD_GNT;
        if (!reading || (word(bitOut >>> 4) >>> (15 - (bitOut & 15)) & 1) != 0) {
            value |= EECD_DO; // DO idles high, as the part's pull-up makes it
        }
        return value;
    }

    void writeEecd(int value) {
        int old = eecd;
        eecd = value & EECD_WRITABLE;
        if ((value & EECD_CS) == 0) {
            return; // deselected: the part ignores its clock
        }
        if ((old & EECD_CS) == 0) {
            shiftIn = 0; // select starts a new command
            bitsIn = 0;
            bitOut = 0;
            reading = false;
        }
        if (((old ^ value) & EECD_SK) == 0) {
            return; // no clock edge
        }
        if ((value & EECD_SK) == 0) {
            if (reading) {
                bitOut = (bitOut + 1) & (WORDS * 16 - 1); // falling edge: the next bit goes out
            }
            return;
        }
        if (bitsIn < COMMAND_BITS) {
            shiftIn = shiftIn << 1 | ((value & EECD_DI) != 0 ? 1 : 0);
            if (++bitsIn == COMMAND_BITS && shiftIn >>> 6 == READ_OPCODE) {
                reading = true;
                // The falling edge after the last address bit moves to the word's first (most significant) bit.
                bitOut = ((shiftIn & (WORDS - 1)) * 16 - 1) & (WORDS * 16 - 1);
            }
        }
    }

    /** A write to EERD: with the start bit, the addressed word comes back at once with the done bit. */
    int eerd(int value) {
        if ((value & EERD_START) == 0) {
            return value & ~EERD_DONE;
        }
        int address = value >>> EERD_ADDR_SHIFT & 0xff;
        return address << EERD_ADDR_SHIFT | EERD_DONE | word(address) << EERD_DATA_SHIFT;
    }

    /** The interface state, for snapshots (the contents follow from the MAC). */
    int[] state() {
        return new int[] {eecd, shiftIn, bitsIn, reading ? 1 : 0, bitOut};
    }

    void restore(int[] state) {
        eecd = state[0] & EECD_WRITABLE;
        shiftIn = state[1] & 0x1ff;
        bitsIn = Math.clamp(state[2], 0, COMMAND_BITS);
        reading = state[3] != 0;
        bitOut = state[4] & (WORDS * 16 - 1);
    }
}
