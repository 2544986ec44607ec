package io.vmguard.devices.e1000;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/** The PHY through MDIC as e1000_read_phy_reg / e1000_write_phy_reg drive it. */
class PhyTest {
    private static int read(int phyAddress, int register) {
        return 2 << 26 | phyAddress << 21 | register << 16;
    }

    private static int write(int register, int value) {
        return 1 << 26 | Phy.ADDRESS << 21 | register << 16 | value;
    }

    @Test
    void theIdRegistersNameAnM88E1011() {
        Phy phy = new Phy();
        int id1 = phy.mdic(read(Phy.ADDRESS, Phy.ID1));
        int id2 = phy.mdic(read(Phy.ADDRESS, Phy.ID2));
        assertEquals(Phy.MDIC_READY, id1 & (Phy.MDIC_READY | Phy.MDIC_ERROR));
        assertEquals(0x01410c20, (id1 & 0xffff) << 16 | (id2 & 0xffff), "M88E1011_I_PHY_ID");
    }

    @Test
    void theLinkIsUpWithAutonegotiationCompleteAndAResetSelfClears() {
        Phy phy = new Phy();
        phy.mdic(write(Phy.BMCR, 0x1140 | Phy.BMCR_RESET | Phy.BMCR_RESTART_AN));
        assertEquals(0x1140, phy.mdic(read(Phy.ADDRESS, Phy.BMCR)) & 0xffff, "reset and restart self-clear");
        int bmsr = phy.mdic(read(Phy.ADDRESS, Phy.BMSR)) & 0xffff;
        assertEquals(Phy.BMSR_LINK | Phy.BMSR_AN_COMPLETE, bmsr & (Phy.BMSR_LINK | Phy.BMSR_AN_COMPLETE));
        assertEquals(0xac00, phy.mdic(read(Phy.ADDRESS, Phy.SPEC_STATUS)) & 0xffff, "1000 Mb/s full duplex resolved");
    }

    @Test
    void anotherPhyAddressOrAMissingRegisterAnswersWithTheErrorBit() {
        Phy phy = new Phy();
        assertNotEquals(0, phy.mdic(read(2, Phy.ID1)) & Phy.MDIC_ERROR);
        assertNotEquals(0, phy.mdic(read(Phy.ADDRESS, 0x0f)) & Phy.MDIC_ERROR);
        assertNotEquals(0, phy.mdic(3 << 26 | Phy.ADDRESS << 21) & Phy.MDIC_ERROR, "opcode 11 is no operation");
    }

    @Test
    void readOnlyRegistersIgnoreWrites() {
        Phy phy = new Phy();
        phy.mdic(write(Phy.ID1, 0xdead));
        phy.mdic(write(Phy.BMSR, 0));
        assertEquals(0x0141, phy.read(Phy.ID1));
        assertNotEquals(0, phy.read(Phy.BMSR) & Phy.BMSR_LINK);
        phy.mdic(write(Phy.ANAR, 0x01e1));
        assertEquals(0x01e1, phy.read(Phy.ANAR));
    }
}
