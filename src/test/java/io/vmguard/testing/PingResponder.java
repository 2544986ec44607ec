package io.vmguard.testing;

import io.vmguard.net.MacAddress;
import java.net.Inet4Address;
import java.util.Arrays;

/**
 * The least of an IPv4 host, enough to be pinged: answers ARP requests for {@code address} and ICMP echo
 * requests to it, and nothing else. Frames with bad checksums or fragments are ignored, as a host would.
 */
public record PingResponder(MacAddress mac, Inet4Address address) implements FramePeer.Responder {
    static final int ETHERTYPE_IPV4 = 0x0800;
    static final int ETHERTYPE_ARP = 0x0806;
    private static final int ETH = 14;
    private static final int ARP_LENGTH = 28;
    private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};

    @Override
    public byte[] respond(byte[] frame) {
        if (frame.length < ETH || !(forUs(frame) || Arrays.equals(frame, 0, 6, BROADCAST, 0, 6))) {
            return null;
        }
        return switch (u16(frame, 12)) {
            case ETHERTYPE_ARP -> arpReply(frame);
            case ETHERTYPE_IPV4 -> forUs(frame) ? echoReply(frame) : null;
            default -> null;
        };
    }

    private boolean forUs(byte[] frame) {
        return Arrays.equals(frame, 0, 6, mac.bytes(), 0, 6);
    }

    /** ARP (RFC 826) for Ethernet and IPv4: hardware type 1, protocol 0x0800, lengths 6 and 4, opcode 1 = request. */
    private byte[] arpReply(byte[] request) {
        byte[] ip = address.getAddress();
        if (request.length < ETH + ARP_LENGTH || u16(request, 14) != 1 || u16(request, 16) != ETHERTYPE_IPV4
                || request[18] != 6 || request[19] != 4 || u16(request, 20) != 1
                || !Arrays.equals(request, 38, 42, ip, 0, 4)) {
            return null;
        }
        byte[] reply = new byte[ETH + ARP_LENGTH];
        System.arraycopy(request, 22, reply, 0, 6);           // to the asker's hardware address
        System.arraycopy(mac.bytes(), 0, reply, 6, 6);
        put16(reply, 12, ETHERTYPE_ARP);
        System.arraycopy(request, 14, reply, 14, 6);          // hardware/protocol types and lengths
        put16(reply, 20, 2);                                  // reply
        System.arraycopy(mac.bytes(), 0, reply, 22, 6);       // sender: us
        System.arraycopy(ip, 0, reply, 28, 4);
        System.arraycopy(request, 22, reply, 32, 10);         // target: the asker's hardware and IP address
        return reply;
    }

    private byte[] echoReply(byte[] request) {
        if (request.length < ETH + 20 || (request[ETH] & 0xf0) != 0x40) {
            return null;
        }
        int headerLength = (request[ETH] & 0x0f) * 4;
        int totalLength = u16(request, ETH + 2);
        int icmp = ETH + headerLength;
        int icmpLength = totalLength - headerLength;
        boolean valid = headerLength >= 20 && totalLength <= request.length - ETH && icmpLength >= 8
                && (u16(request, ETH + 6) & 0x3fff) == 0                          // neither a fragment nor fragmented
                && request[ETH + 9] == 1                                            // ICMP
                && Arrays.equals(request, ETH + 16, ETH + 20, address.getAddress(), 0, 4)
                && checksum(request, ETH, headerLength) == 0 && checksum(request, icmp, icmpLength) == 0
                && request[icmp] == 8 && request[icmp + 1] == 0;                    // echo request
        if (!valid) {
            return null;
        }
        byte[] reply = new byte[ETH + 20 + icmpLength];
        System.arraycopy(request, 6, reply, 0, 6);
        System.arraycopy(mac.bytes(), 0, reply, 6, 6);
        put16(reply, 12, ETHERTYPE_IPV4);
        reply[ETH] = 0x45;                                                          // IPv4, 20-byte header, no options
        put16(reply, ETH + 2, 20 + icmpLength);
        System.arraycopy(request, ETH + 4, reply, ETH + 4, 2);                      // identification
        reply[ETH + 8] = 64;                                                        // TTL
        reply[ETH + 9] = 1;
        System.arraycopy(address.getAddress(), 0, reply, ETH + 12, 4);
        System.arraycopy(request, ETH + 12, reply, ETH + 16, 4);
        put16(reply, ETH + 10, checksum(reply, ETH, 20));
        System.arraycopy(request, icmp, reply, ETH + 20, icmpLength);
        reply[ETH + 20] = 0;                                                        // echo reply
        put16(reply, ETH + 22, 0);
        put16(reply, ETH + 22, checksum(reply, ETH + 20, icmpLength));
        return reply;
    }

    /**
     * The Internet checksum (RFC 1071) of {@code length} bytes at {@code offset}: the ones' complement of
     * their ones' complement sum in 16-bit words. Over data that carries its own checksum it is 0.
     */
    static int checksum(byte[] data, int offset, int length) {
        long sum = 0;
        for (int i = 0; i + 1 < length; i += 2) {
            sum += u16(data, offset + i);
        }
        if ((length & 1) != 0) {
            sum += (data[offset + length - 1] & 0xff) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }

    static int u16(byte[] data, int offset) {
        return (data[offset] & 0xff) << 8 | (data[offset + 1] & 0xff);
    }

    static void put16(byte[] data, int offset, int value) {
        data[offset] = (byte) (value >>> 8);
        data[offset + 1] = (byte) value;
    }
}
