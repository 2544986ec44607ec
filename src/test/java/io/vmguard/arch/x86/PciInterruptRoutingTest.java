package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PciInterruptRoutingTest {
    @Test
    void pinsSwizzleOverTheEightDeviceGsis() {
        assertEquals(17, PciInterruptRouting.gsi(1, 0)); // slot 1 INTA
        assertEquals(20, PciInterruptRouting.gsi(1, 3)); // slot 1 INTD
        assertEquals(23, PciInterruptRouting.gsi(7, 0));
        assertEquals(16, PciInterruptRouting.gsi(7, 1)); // wraps around
        assertEquals(18, PciInterruptRouting.gsi(31, 3)); // (31 + 3) % 8 = 2
    }

    @Test
    void theFourPinsOfASlotAndTheIntaOfEightNeighboursAllDiffer() {
        for (int slot = PciInterruptRouting.FIRST_SLOT; slot <= PciInterruptRouting.LAST_SLOT; slot++) {
            Set<Integer> pins = new HashSet<>();
            for (int pin = 0; pin < PciInterruptRouting.PINS; pin++) {
                int gsi = PciInterruptRouting.gsi(slot, pin);
                assertEquals(true, gsi >= X86Layout.FIRST_DEVICE_GSI && gsi < X86Layout.GSI_COUNT, "GSI " + gsi);
                pins.add(gsi);
            }
            assertEquals(4, pins.size(), "slot " + slot);
        }
        Set<Integer> inta = new HashSet<>();
        for (int slot = 1; slot <= 8; slot++) {
            inta.add(PciInterruptRouting.gsi(slot, 0));
        }
        assertEquals(8, inta.size());
    }

    @Test
    void slotsAndPinsOutsideTheRoutedRangeAreRejected() {
        assertEquals("PCI slot 0 has no INTx routing (slots 1-31)",
                assertThrows(IllegalArgumentException.class, () -> PciInterruptRouting.gsi(0, 0)).getMessage());
        assertEquals("PCI slot 32 has no INTx routing (slots 1-31)",
                assertThrows(IllegalArgumentException.class, () -> PciInterruptRouting.gsi(32, 0)).getMessage());
        assertEquals("PCI interrupt pin 4 is not INTA-INTD (0-3)",
                assertThrows(IllegalArgumentException.class, () -> PciInterruptRouting.gsi(1, 4)).getMessage());
    }
}
