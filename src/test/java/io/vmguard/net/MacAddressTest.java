package io.vmguard.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MacAddressTest {
    @Test
    void parsesAndFormatsTheColonNotation() {
        MacAddress mac = MacAddress.parse("52:54:00:12:34:56");
        assertEquals(0x5254_0012_3456L, mac.bits());
        assertEquals("52:54:00:12:34:56", mac.toString());
        assertArrayEquals(new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, mac.bytes());
        assertEquals(mac, new MacAddress(mac.bytes()));
        assertEquals("0a:bc:de:f0:12:34", MacAddress.parse("0A:BC:DE:F0:12:34").toString(), "upper case is read, lower written");
        assertTrue(mac.isLocallyAdministered());
        assertEquals(false, MacAddress.parse("00:1b:21:00:00:01").isLocallyAdministered());
    }

    @Test
    void rejectsMalformedTextWithOneLine() {
        for (String bad : new String[] {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56", "5254.0012.3456",
                "52:54:00:12:34:5g", "52:54:00:12:34:5", " 52:54:00:12:34:56", "52:54:00:12:34:56 ", "525400123456"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(bad), bad);
            assertEquals("bad MAC address '" + bad + "': write six hex bytes like 52:54:00:12:34:56", e.getMessage());
        }
    }

    @Test
    void rejectsGroupAndZeroAddressesBecauseACardCannotUseThem() {
        assertEquals("MAC address 01:00:5e:00:00:01 is multicast; a network card needs a unicast address (even first byte)",
                assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("01:00:5e:00:00:01")).getMessage());
        assertEquals("MAC address ff:ff:ff:ff:ff:ff is multicast; a network card needs a unicast address (even first byte)",
                assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("ff:ff:ff:ff:ff:ff")).getMessage());
        assertEquals("MAC address 00:00:00:00:00:00 is not a card address",
                assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("00:00:00:00:00:00")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MacAddress(1L << 48));
        assertThrows(IllegalArgumentException.class, () -> new MacAddress(new byte[5]));
    }

    @Test
    void generatedAddressesAreLocallyAdministeredUnicastAndVary() {
        Random random = new Random(42);
        Set<MacAddress> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            MacAddress mac = MacAddress.generate(random);
            assertTrue(mac.isLocallyAdministered(), mac.toString());
            assertEquals(0, mac.bytes()[0] & 1, mac + " must be unicast");
            assertEquals(mac, MacAddress.parse(mac.toString()));
            seen.add(mac);
        }
        assertEquals(1000, seen.size(), "random addresses should not repeat");
        assertNotEquals(MacAddress.generate(new Random(1)), MacAddress.generate(new Random(2)));
    }
}
