package io.vmguard.net;

import java.util.HexFormat;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;

/**
 * A network card's own Ethernet address: 48 bits, unicast (a card never sends from a group address) and
 * not all zeros. {@code bits} holds the six bytes in wire order, the first byte in bits 47..40.
 */
public record MacAddress(long bits) {
    private static final Pattern TEXT = Pattern.compile("\\p{XDigit}{2}(:\\p{XDigit}{2}){5}");
    /** The I/G bit: set in the first byte of a group (multicast or broadcast) address. */
    private static final long GROUP = 0x01L << 40;
    /** The U/L bit: set in addresses assigned locally rather than from a vendor's OUI. */
    private static final long LOCAL = 0x02L << 40;
    private static final long MASK = (1L << 48) - 1;

    public MacAddress {
        if ((bits & ~MASK) != 0) {
            throw new IllegalArgumentException("MAC address 0x" + Long.toHexString(bits) + " has more than 48 bits");
        }
        if ((bits & GROUP) != 0) {
            throw new IllegalArgumentException("MAC address " + format(bits)
                    + " is multicast; a network card needs a unicast address (even first byte)");
        }
        if (bits == 0) {
            throw new IllegalArgumentException("MAC address 00:00:00:00:00:00 is not a card address");
        }
    }

    /** Reads the usual notation, six hex bytes separated by colons, e.g. {@code 52:54:00:12:34:56}. */
    public static MacAddress parse(String text) {
        if (!TEXT.matcher(text).matches()) {
            throw new IllegalArgumentException("bad MAC address '" + text + "': write six hex bytes like 52:54:00:12:34:56");
        }
        return new MacAddress(HexFormat.fromHexDigitsToLong(text.replace(":", "")));
    }

    /**
     * A random locally administered unicast address, for a card given none. Random rather than numbered from
     * a fixed base so that two VMs started separately and joined by a socket backend do not share one.
     */
    public static MacAddress generate(RandomGenerator random) {
        return new MacAddress((random.nextLong() & MASK & ~GROUP) | LOCAL);
    }

    public MacAddress(byte[] bytes) {
        this(fromBytes(bytes));
    }

    public boolean isLocallyAdministered() {
        return (bits & LOCAL) != 0;
    }

    /** The six bytes in wire order. */
    public byte[] bytes() {
        return toBytes(bits);
    }

    @Override
    public String toString() {
        return format(bits);
    }

    private static long fromBytes(byte[] bytes) {
        if (bytes.length != 6) {
            throw new IllegalArgumentException("a MAC address has 6 bytes, not " + bytes.length);
        }
        long bits = 0;
        for (byte b : bytes) {
            bits = bits << 8 | (b & 0xff);
        }
        return bits;
    }

    private static String format(long bits) {
        return HexFormat.ofDelimiter(":").formatHex(toBytes(bits));
    }

    private static byte[] toBytes(long bits) {
        byte[] bytes = new byte[6];
        for (int i = 0; i < 6; i++) {
            bytes[i] = (byte) (bits >>> (40 - 8 * i));
        }
        return bytes;
    }
}
