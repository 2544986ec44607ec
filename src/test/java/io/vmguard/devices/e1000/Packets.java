package io.vmguard.devices.e1000;

import static io.vmguard.testing.NetworkBytes.putU16;
import static io.vmguard.testing.NetworkBytes.sum;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Ethernet/IPv4/TCP and UDP packets for the tests, prepared as Linux hands them to the e1000 driver, and an
 * independent check of what the card made of them (testing.NetworkBytes' RFC 1071 sum over byte arrays).
 */
final class Packets {
    static final int ETH = 14, IP = 20, TCP = 20, UDP = 8;
    static final int HEADER = ETH + IP + TCP;
    static final byte[] SRC_IP = {10, 0, 2, 2}, DST_IP = {10, 0, 2, 1};
    static final int FIRST_SEQUENCE = 0x7fff_f000;
    static final int FIRST_ID = 0x1234;
    static final int FLAGS = 0x18 | 0x01; // ACK, PSH, FIN

    private Packets() {}

    static byte[] payload(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + seed);
        }
        return bytes;
    }

    /**
     * A TCP/IPv4 packet. {@code tso}: as for TSO (IP total length and checksum 0, TCP checksum = pseudo-header
     * sum without the length); else as for checksum offload (lengths set, TCP checksum = pseudo-header sum
     * with the length, IP checksum computed by the stack).
     */
    static byte[] tcp(byte[] payload, boolean tso) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + payload.length);
        b.put(new byte[] {0x52, 0x54, 0, 0, 0, 1}).put(new byte[] {0x52, 0x54, 0, 0, 0, 2}).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (tso ? 0 : IP + TCP + payload.length)).putShort((short) FIRST_ID)
                .putShort((short) 0x4000).put((byte) 64).put((byte) 6).putShort((short) 0).put(SRC_IP).put(DST_IP);
        b.putShort((short) 40000).putShort((short) 5000).putInt(FIRST_SEQUENCE).putInt(1).put((byte) 0x50)
                .put((byte) FLAGS).putShort((short) 502).putShort((short) 0).putShort((short) 0);
        b.put(payload);
        byte[] packet = b.array();
        int pseudo = pseudoSum(6, tso ? 0 : TCP + payload.length);
        putU16(packet, ETH + IP + 16, pseudo);
        if (!tso) {
            putU16(packet, ETH + 10, ~sum(packet, ETH, IP) & 0xffff);
        }
        return packet;
    }

    /** A UDP/IPv4 packet as for checksum offload. */
    static byte[] udp(byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(ETH + IP + UDP + payload.length);
        b.put(new byte[] {0x52, 0x54, 0, 0, 0, 1}).put(new byte[] {0x52, 0x54, 0, 0, 0, 2}).putShort((short) 0x0800);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (IP + UDP + payload.length)).putShort((short) FIRST_ID)
                .putShort((short) 0).put((byte) 64).put((byte) 17).putShort((short) 0).put(SRC_IP).put(DST_IP);
        b.putShort((short) 53).putShort((short) 5353).putShort((short) (UDP + payload.length)).putShort((short) 0);
        b.put(payload);
        byte[] packet = b.array();
        putU16(packet, ETH + IP + 6, pseudoSum(17, UDP + payload.length));
        putU16(packet, ETH + 10, ~sum(packet, ETH, IP) & 0xffff);
        return packet;
    }

    /** The context Linux's e1000_tso writes for {@link #tcp} with {@code tso}. */
    static OffloadContext tsoContext(int payloadLength, int mss) {
        return new OffloadContext(ETH, ETH + 10, ETH + IP - 1, ETH + IP, ETH + IP + 16, 0, payloadLength, true, true, true,
                HEADER, mss);
    }

    /** The context Linux's e1000_tx_csum writes: L4 checksum only (start and offset of the field). */
    static OffloadContext checksumContext(int l4Start, int fieldOffset) {
        return new OffloadContext(0, 0, 0, l4Start, l4Start + fieldOffset, 0, 0, false, false, false, 0, 0);
    }

    static int pseudoSum(int protocol, int length) {
        byte[] pseudo = new byte[12];
        System.arraycopy(SRC_IP, 0, pseudo, 0, 4);
        System.arraycopy(DST_IP, 0, pseudo, 4, 4);
        pseudo[9] = (byte) protocol;
        putU16(pseudo, 10, length);
        return sum(pseudo, 0, 12);
    }

    /** Whether a TCP/IPv4 frame's IP header checksum and TCP checksum (with pseudo-header) are both right. */
    static boolean checksumsValid(byte[] frame, int protocol, int l4Header) {
        if (sum(frame, ETH, IP) != 0xffff) {
            return false;
        }
        int l4Length = frame.length - ETH - IP;
        byte[] withPseudo = new byte[12 + l4Length];
        System.arraycopy(SRC_IP, 0, withPseudo, 0, 4);
        System.arraycopy(DST_IP, 0, withPseudo, 4, 4);
        withPseudo[9] = (byte) protocol;
        putU16(withPseudo, 10, l4Length);
        System.arraycopy(frame, ETH + IP, withPseudo, 12, l4Length);
        return l4Header > 0 && sum(withPseudo, 0, withPseudo.length) == 0xffff;
    }

    static byte[] slice(byte[] bytes, int from, int to) {
        return Arrays.copyOfRange(bytes, from, to);
    }
}
