package io.vmguard.devices.e1000;

/**
 * The copper PHY behind MDIC: a Marvell 88E1011 at MDIO address 1, as the 82540EM carries, with its link
 * always up at 1000 Mb/s full duplex and autonegotiation complete. Linux's driver identifies it by its ID
 * registers (0x0141/0x0C20, {@code M88E1011_I_PHY_ID}), resets it, restarts autonegotiation and then polls
 * the status registers; those bits self-clear and the link is reported at once. Initial values follow QEMU
 * ({@code phy_reg_init} in {@code hw/net/e1000.c}). Not thread-safe: the device calls it under its lock.
 *
 * <p>MDIC: data 15:0, register 20:16, PHY address 25:21, opcode 27:26 (01 write, 10 read), ready 28,
 * interrupt enable 29, error 30. Every operation completes at once (ready set); a PHY address other than 1,
 * a register the PHY lacks or a bad opcode completes with the error bit.
 */
final class Phy {
    static final int ADDRESS = 1;
    static final int BMCR = 0x00, BMSR = 0x01, ID1 = 0x02, ID2 = 0x03, ANAR = 0x04, ANLPAR = 0x05, ANER = 0x06,
            CTRL1000 = 0x09, STAT1000 = 0x0a, SPEC_CTRL = 0x10, SPEC_STATUS = 0x11, INT_ENABLE = 0x12,
            EXT_SPEC_CTRL = 0x14, RX_ERRORS = 0x15, LED_CTRL = 0x18;
    static final int REGISTERS = 0x20;

    static final int BMCR_RESTART_AN = 1 << 9, BMCR_RESET = 1 << 15;
    static final int BMSR_LINK = 1 << 2, BMSR_AN_COMPLETE = 1 << 5;

    static final int MDIC_READY = 1 << 28, MDIC_INT_EN = 1 << 29, MDIC_ERROR = 1 << 30;
    private static final int OP_WRITE = 1, OP_READ = 2;

    private static final int[] INITIAL = new int[REGISTERS];
    /** Which registers exist; the others answer with the error bit. */
    private static final boolean[] PRESENT = new boolean[REGISTERS];
    /** Bits a write may change, per register (status and ID registers are read-only). */
    private static final int[] WRITABLE = new int[REGISTERS];

    static {
        INITIAL[BMCR] = 0x1140; // 1000 Mb/s, full duplex, autonegotiation on
        INITIAL[BMSR] = 0x796d; // capabilities, link up, autonegotiation complete
        INITIAL[ID1] = 0x0141;
        INITIAL[ID2] = 0x0c20;
        INITIAL[ANAR] = 0x0de1;
        INITIAL[ANLPAR] = 0x01e0;
        INITIAL[ANER] = 0x0001;
        INITIAL[CTRL1000] = 0x0e00;
        INITIAL[STAT1000] = 0x3c00;
        INITIAL[SPEC_CTRL] = 0x0360;
        INITIAL[SPEC_STATUS] = 0xac00; // 1000 Mb/s, full duplex, resolved, link up
        INITIAL[EXT_SPEC_CTRL] = 0x0d60;
        for (int r : new int[] {BMCR, BMSR, ID1, ID2, ANAR, ANLPAR, ANER, CTRL1000, STAT1000, SPEC_CTRL, SPEC_STATUS,
                INT_ENABLE, 0x13, EXT_SPEC_CTRL, RX_ERRORS, 0x16, LED_CTRL, 0x19, 0x1a, 0x1d, 0x1e}) {
            PRESENT[r] = true;
            WRITABLE[r] = 0xffff;
        }
        WRITABLE[BMSR] = WRITABLE[ID1] = WRITABLE[ID2] = WRITABLE[ANLPAR] = WRITABLE[ANER] = WRITABLE[STAT1000] = 0;
        WRITABLE[SPEC_STATUS] = WRITABLE[RX_ERRORS] = 0;
    }

    private final int[] registers = INITIAL.clone();

    /** Runs the MDIC operation the guest wrote; returns what MDIC reads afterwards. */
    int mdic(int value) {
        int data = value & 0xffff;
        int register = value >>> 16 & 0x1f;
        int phy = value >>> 21 & 0x1f;
        int op = value >>> 26 & 3;
        int result = value & ~(0xffff | MDIC_READY | MDIC_ERROR);
        if (phy != ADDRESS || !PRESENT[register] || (op != OP_READ && op != OP_WRITE)) {
            return result | MDIC_READY | MDIC_ERROR;
        }
        if (op == OP_READ) {
            return result | MDIC_READY | registers[register];
        }
        write(register, data);
        return result | MDIC_READY | data;
    }

    int read(int register) {
        return registers[register];
    }

    private void write(int register, int value) {
        int kept = registers[register] & ~WRITABLE[register];
        registers[register] = kept | value & WRITABLE[register];
        if (register == BMCR) {
            // Reset and restart-autonegotiation self-clear; the emulated link is up again at once.
            registers[BMCR] &= ~(BMCR_RESET | BMCR_RESTART_AN);
            registers[BMSR] |= BMSR_LINK | BMSR_AN_COMPLETE;
        }
    }

    /** Back to the power-on values (CTRL.PHY_RST, or the card's reset). */
    void reset() {
        System.arraycopy(INITIAL, 0, registers, 0, REGISTERS);
    }

    int[] state() {
        return registers.clone();
    }

    void restore(int[] saved) {
        for (int r = 0; r < REGISTERS; r++) {
            registers[r] = PRESENT[r] ? (INITIAL[r] & ~WRITABLE[r]) | (saved[r] & WRITABLE[r] & 0xffff) : 0;
        }
    }
}
