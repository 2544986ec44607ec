package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The 8259A pair as Linux's init_8259A programs it: vectors 0x20-0x2f, slave on IRQ 2. */
class DualPicTest {
    private final DualPic pic = new DualPic();

    @BeforeEach
    void initialiseLikeLinux() {
        pic.write(0x21, 0xff); // mask everything first, as Linux does
        pic.write(0xa1, 0xff);
        pic.write(0x20, 0x11); // ICW1: edge, cascade, ICW4 follows
        pic.write(0x21, 0x20); // ICW2: vectors 0x20-0x27
        pic.write(0x21, 0x04); // ICW3: slave on IR2
        pic.write(0x21, 0x01); // ICW4: 8086 mode, normal EOI
        pic.write(0xa0, 0x11);
        pic.write(0xa1, 0x28);
        pic.write(0xa1, 0x02);
        pic.write(0xa1, 0x01);
    }

    @Test
    void initialisationSetsTheVectorBasesAndLeavesEverythingUnmasked() {
        assertEquals(0x00, pic.read(0x21), "ICW1 cleared the mask");
        assertEquals(0x00, pic.read(0xa1));
        pic.pulse(1);
        assertTrue(pic.intr());
        assertEquals(0x21, pic.acknowledge());
        pic.write(0x20, 0x20); // EOI: IRQ 1 in service would hold back the cascade (IR2) below it
        pic.pulse(14);
        assertEquals(0x2e, pic.acknowledge());
    }

    @Test
    void aMaskedRequestWaitsInIrrUntilUnmasked() {
        pic.write(0x21, 0x08); // OCW1: mask IRQ 3
        pic.pulse(3);
        assertFalse(pic.intr());
        pic.write(0x20, 0x0a); // OCW3: read IRR
        assertEquals(0x08, pic.read(0x20));
        assertEquals(0x08, pic.read(0x21), "the data port reads the mask");

        pic.write(0x21, 0x00);
        assertTrue(pic.intr());
        assertEquals(0x23, pic.acknowledge());
        assertEquals(0x00, pic.read(0x20), "acknowledged: IRR empty");
        pic.write(0x20, 0x0b); // OCW3: read ISR
        assertEquals(0x08, pic.read(0x20), "in service");
    }

    @Test
    void lowerIrqNumbersWinAndAnInServiceIrqBlocksLowerOnesUntilEoi() {
        pic.pulse(5);
        pic.pulse(3);
        assertEquals(0x23, pic.acknowledge());
        assertFalse(pic.intr(), "IRQ 5 ranks below IRQ 3, which is in service");
        pic.pulse(1);
        assertTrue(pic.intr(), "IRQ 1 outranks IRQ 3 and nests");
        assertEquals(0x21, pic.acknowledge());

        pic.write(0x20, 0x20); // non-specific EOI: ends IRQ 1, the highest in service
        assertFalse(pic.intr(), "IRQ 3 still in service");
        pic.write(0x20, 0x63); // specific EOI for IRQ 3
        assertTrue(pic.intr());
        assertEquals(0x25, pic.acknowledge());
    }

    @Test
    void anEdgeTriggeredInputRequestsOncePerRisingEdge() {
        pic.setIrq(4, true);
        assertEquals(0x24, pic.acknowledge());
        pic.write(0x20, 0x20);
        assertFalse(pic.intr(), "still high, but no new edge");
        pic.setIrq(4, false);
        pic.setIrq(4, true);
        assertTrue(pic.intr());
    }

    @Test
    void theElcrMakesAnInputLevelTriggeredAndHasFixedEdgeOnlyBits() {
        pic.write(0x4d0, 0xff);
        pic.write(0x4d1, 0xff);
        assertEquals(0xf8, pic.read(0x4d0), "IRQ 0, 1 and 2 are edge only");
        assertEquals(0xde, pic.read(0x4d1), "IRQ 8 and 13 are edge only");

        pic.write(0x4d0, 0x20); // IRQ 5 level-triggered
        pic.setIrq(5, true);
        assertEquals(0x25, pic.acknowledge());
        pic.write(0x20, 0x20);
        assertTrue(pic.intr(), "a level request stays while the line is high");
        pic.setIrq(5, false);
        assertFalse(pic.intr());
    }

    @Test
    void aSlaveIrqCascadesThroughIr2AndNeedsAnEoiOnBothChips() {
        pic.pulse(12);
        assertTrue(pic.intr());
        assertEquals(0x2c, pic.acknowledge());
        pic.write(0x20, 0x0b);
        pic.write(0xa0, 0x0b);
        assertEquals(0x04, pic.read(0x20), "master: IR2 in service");
        assertEquals(0x10, pic.read(0xa0), "slave: IR4 in service");

        pic.pulse(9);
        assertFalse(pic.intr(), "IRQ 9 ranks below IRQ 12, in service on the slave");
        pic.write(0xa0, 0x64); // specific EOI for slave IR4
        pic.write(0x20, 0x62); // specific EOI for master IR2
        assertEquals(0x29, pic.acknowledge());
    }

    @Test
    void aRequestThatVanishesBeforeTheAcknowledgeIsSpuriousIrq7Or15() {
        pic.write(0x4d0, 0x20); // IRQ 5 level-triggered
        pic.setIrq(5, true);
        assertTrue(pic.intr());
        pic.setIrq(5, false);
        assertEquals(0x27, pic.acknowledge(), "master spurious: IRQ 7");
        pic.write(0x20, 0x0b);
        assertEquals(0x00, pic.read(0x20), "a spurious IRQ 7 is not put in service");

        pic.write(0x4d1, 0x04); // IRQ 10 level-triggered
        pic.setIrq(10, true);
        pic.setIrq(10, false); // gone, but the master latched the cascade's edge
        assertEquals(0x2f, pic.acknowledge(), "slave spurious: IRQ 15");
        assertEquals(0x04, pic.read(0x20), "the master put IR2 in service all the same");
        pic.write(0xa0, 0x0b);
        assertEquals(0x00, pic.read(0xa0));
    }

    @Test
    void autoEoiLeavesNothingInService() {
        pic.write(0x20, 0x11);
        pic.write(0x21, 0x20);
        pic.write(0x21, 0x04);
        pic.write(0x21, 0x03); // ICW4: auto-EOI
        pic.pulse(6);
        assertEquals(0x26, pic.acknowledge());
        pic.write(0x20, 0x0b);
        assertEquals(0x00, pic.read(0x20));
        pic.pulse(7);
        assertEquals(0x27, pic.acknowledge(), "no EOI needed before a lower-priority IRQ");
    }

    @Test
    void setPriorityRotatesWhichIrqRanksHighest() {
        pic.write(0x20, 0xc4); // OCW2 set priority: IRQ 4 lowest, so IRQ 5 highest
        pic.pulse(3);
        pic.pulse(6);
        assertEquals(0x26, pic.acknowledge());
    }

    @Test
    void pollModeAnswersTheRequestOnARead() {
        pic.pulse(3);
        pic.write(0x20, 0x0c); // OCW3: poll
        assertEquals(0x83, pic.read(0x20), "bit 7: a request; low bits: IRQ 3, now in service");
        assertFalse(pic.intr());
        pic.write(0x20, 0x0c);
        assertEquals(0x00, pic.read(0x20), "nothing pending");
    }
}
