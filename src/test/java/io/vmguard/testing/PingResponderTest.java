package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.vmguard.net.MacAddress;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** Known answers computed independently (Python's struct and RFC 1071 arithmetic), byte for byte. */
class PingResponderTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final String ARP_REQUEST =
            "ffffffffffffaabbccddeeff08060001080006040001aabbccddeeff0a00020f0000000000000a000202";
    private static final String ARP_REPLY =
            "aabbccddeeff525400123456080600010800060400025254001234560a000202aabbccddeeff0a00020f";
    private static final String ECHO_REQUEST = "525400123456aabbccddeeff080045000029abcd4000400176f60a00020f0a000202"
            + "0800428412340001766d67756172642070696e6721";
    private static final String ECHO_REPLY = "aabbccddeeff525400123456080045000029abcd00004001b6f60a0002020a00020f"
            + "00004a8412340001766d67756172642070696e6721";

    private final PingResponder responder = new PingResponder(MacAddress.parse("52:54:00:12:34:56"), ip("10.0.2.2"));

    @Test
    void answersAnArpRequestForItsAddress() {
        assertArrayEquals(HEX.parseHex(ARP_REPLY), responder.respond(HEX.parseHex(ARP_REQUEST)));
    }

    @Test
    void answersAnEchoRequestWithAnOddLengthPayload() {
        assertArrayEquals(HEX.parseHex(ECHO_REPLY), responder.respond(HEX.parseHex(ECHO_REQUEST)));
    }

    @Test
    void ignoresWhatIsNotForIt() {
        byte[] arpForOther = HEX.parseHex(ARP_REQUEST);
        arpForOther[41] = 3;
        assertNull(responder.respond(arpForOther), "ARP for another address");

        byte[] badChecksum = HEX.parseHex(ECHO_REQUEST);
        badChecksum[badChecksum.length - 1] ^= 1;
        assertNull(responder.respond(badChecksum), "ICMP checksum wrong");

        byte[] otherMac = HEX.parseHex(ECHO_REQUEST);
        otherMac[5] = 0x57;
        assertNull(responder.respond(otherMac), "unicast to another card");

        byte[] fragment = HEX.parseHex(ECHO_REQUEST);
        fragment[14 + 6] = 0x20;                       // more fragments
        PingResponder.put16(fragment, 14 + 10, 0);
        PingResponder.put16(fragment, 14 + 10, PingResponder.checksum(fragment, 14, 20));
        assertNull(responder.respond(fragment), "a fragment");

        assertNull(responder.respond(new byte[13]), "a runt");
    }

    @Test
    void checksumMatchesTheTextbookExample() {
        // The IPv4 header of Wikipedia's "IPv4 header checksum" example, checksum field zeroed: 0xb861.
        assertEquals(0xb861, PingResponder.checksum(HEX.parseHex("450000730000400040110000c0a80001c0a800c7"), 0, 20));
        assertEquals(0, PingResponder.checksum(HEX.parseHex("45000073000040004011b861c0a80001c0a800c7"), 0, 20),
                "over a header carrying its checksum");
    }

    private static Inet4Address ip(String text) {
        try {
            return (Inet4Address) InetAddress.getByName(text);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }
}
