package io.vmguard.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * Where the IP and TCP/UDP headers of an Ethernet frame are, read from the frame itself and checked against
 * its length: what a NIC's checksum and segmentation offloads need, and nothing a guest says about them.
 * IPv4 (options allowed, no fragments) and IPv6 (no extension headers), each behind at most one VLAN tag.
 *
 * @param l3 offset of the IP header
 * @param ipv4 IPv4, else IPv6
 * @param l4 offset of the TCP or UDP header
 * @param protocol {@link #TCP} or {@link #UDP}
 * @param end where the IP packet ends (its length field), at most the frame's length
 */
public record PacketLayers(int l3, boolean ipv4, int l4, int protocol, int end) {
    public static final int TCP = 6;
    public static final int UDP = 17;
    private static final int ETHERTYPE_IPV4 = 0x0800, ETHERTYPE_IPV6 = 0x86dd, ETHERTYPE_VLAN = 0x8100;
    private static final int IPV4_HEADER = 20, IPV6_HEADER = 40, TCP_HEADER = 20, UDP_HEADER = 8;

    /** The layers of a TCP or UDP packet in the first {@code length} bytes of {@code frame}; empty for anything else. */
    public static Optional<PacketLayers> parse(MemorySegment frame, int length) {
        if (length < NetBackend.ETHERNET_HEADER || length > frame.byteSize()) {
            return Optional.empty();
        }
        int l3 = NetBackend.ETHERNET_HEADER;
        int etherType = InternetChecksum.u16(frame, 12);
        if (etherType == ETHERTYPE_VLAN) {
            if (length < l3 + 4) {
                return Optional.empty();
            }
            etherType = InternetChecksum.u16(frame, 16);
            l3 += 4;
        }
        if (etherType == ETHERTYPE_IPV4) {
            if (length < l3 + IPV4_HEADER || (byte0(frame, l3) >>> 4) != 4) {
                return Optional.empty();
            }
            int ihl = (byte0(frame, l3) & 0xf) * 4;
            int total = InternetChecksum.u16(frame, l3 + 2);
            boolean fragment = (InternetChecksum.u16(frame, l3 + 6) & 0x3fff) != 0; // MF or an offset
            if (ihl < IPV4_HEADER || total < ihl || l3 + total > length || fragment) {
                return Optional.empty();
            }
            return transport(frame, l3, true, l3 + ihl, byte0(frame, l3 + 9), l3 + total);
        }
        if (etherType == ETHERTYPE_IPV6) {
            if (length < l3 + IPV6_HEADER || (byte0(frame, l3) >>> 4) != 6) {
                return Optional.empty();
            }
            int end = l3 + IPV6_HEADER + InternetChecksum.u16(frame, l3 + 4);
            if (end > length) {
                return Optional.empty();
            }
            return transport(frame, l3, false, l3 + IPV6_HEADER, byte0(frame, l3 + 6), end);
        }
        return Optional.empty();
    }

    private static Optional<PacketLayers> transport(MemorySegment frame, int l3, boolean ipv4, int l4, int protocol, int end) {
        int minimum = protocol == TCP ? TCP_HEADER : protocol == UDP ? UDP_HEADER : -1;
        if (minimum < 0 || l4 + minimum > end) {
            return Optional.empty();
        }
        if (protocol == TCP && l4 + tcpHeaderLength(frame, l4) > end) {
            return Optional.empty();
        }
        return Optional.of(new PacketLayers(l3, ipv4, l4, protocol, end));
    }

    /** The TCP header's length (data offset), at least 20: a smaller one is a lie the caller sees as "too long". */
    static int tcpHeaderLength(MemorySegment frame, int l4) {
        int length = (byte0(frame, l4 + 12) >>> 4) * 4;
        return length < TCP_HEADER ? Integer.MAX_VALUE / 2 : length;
    }

    /** Where the TCP payload starts (this packet's headers end); only for TCP. */
    public int tcpPayload(MemorySegment frame) {
        return l4 + tcpHeaderLength(frame, l4);
    }

    /** Offset of the TCP or UDP checksum field. */
    public int checksumField() {
        return l4 + (protocol == TCP ? 16 : 6);
    }

    /** The pseudo-header sum (RFC 793/768, RFC 8200 8.1) for a transport segment of {@code l4Length} bytes, unfolded. */
    public long pseudoHeaderSum(MemorySegment frame, int l4Length) {
        long sum = protocol + (long) l4Length;
        return ipv4
                ? sum + InternetChecksum.sum(frame, l3 + 12, 8, 0)
                : sum + InternetChecksum.sum(frame, l3 + 8, 32, 0);
    }

    /**
     * Whether the TCP or UDP checksum of this packet is right (the sum over pseudo-header and segment is all
     * ones). A UDP/IPv4 packet without a checksum (0) is not "verified": the guest decides about it.
     */
    public boolean checksumValid(MemorySegment frame) {
        if (protocol == UDP && ipv4 && InternetChecksum.u16(frame, checksumField()) == 0) {
            return false;
        }
        int l4Length = end - l4;
        return InternetChecksum.sum(frame, l4, l4Length, pseudoHeaderSum(frame, l4Length)) == 0xffff;
    }

    private static int byte0(MemorySegment frame, long offset) {
        return frame.get(ValueLayout.JAVA_BYTE, offset) & 0xff;
    }
}
