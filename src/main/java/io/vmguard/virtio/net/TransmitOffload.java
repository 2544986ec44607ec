package io.vmguard.virtio.net;

import io.vmguard.net.InternetChecksum;
import io.vmguard.net.NetException;
import io.vmguard.net.PacketLayers;
import io.vmguard.net.Segmenter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Optional;

/**
 * What the device does for a transmitted frame whose virtio-net header asks for offloads (virtio 1.2
 * 5.1.6.2), so that the backend carries plain, complete Ethernet frames (a socket peer such as QEMU's
 * {@code -netdev dgram} has no virtio header): checksum completion (VIRTIO_NET_F_CSUM: the sum from
 * csum_start to the end, stored at csum_start + csum_offset) and TCP segmentation (HOST_TSO4/TSO6, with
 * HOST_ECN the CWR flag), as Linux's software GSO would have done in the guest.
 *
 * <p>The guest controls every header field, so none is trusted beyond what it selects: segmentation reads
 * the IP and TCP headers from the frame itself ({@link PacketLayers}), ignores hdr_len (a hint without
 * GUEST_HDRLEN) and computes each segment's IP and TCP checksums from scratch. A header asking for what was
 * not negotiated, an offset outside the frame, a gso_size below {@link #MIN_MSS} or a GSO frame that is not
 * the TCP it says it is: the frame is dropped with a reason, nothing sent half-made.
 */
final class TransmitOffload {
    static final int F_NEEDS_CSUM = 1;
    static final int F_DATA_VALID = 2;
    static final int GSO_NONE = 0, GSO_TCPV4 = 1, GSO_UDP = 3, GSO_TCPV6 = 4, GSO_ECN = 0x80;
    /** Linux's smallest send MSS (TCP_MIN_SND_MSS is 48); less is a lying header turning 64 KiB into 64 Ki frames. */
    static final int MIN_MSS = 48;
    private static final int TCP_FIN = 0x01, TCP_PSH = 0x08, TCP_CWR = 0x80;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** struct virtio_net_hdr's fields as the guest wrote them. */
    record Header(int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset) {
        static Header read(MemorySegment header) {
            return new Header(header.get(ValueLayout.JAVA_BYTE, 0) & 0xff, header.get(ValueLayout.JAVA_BYTE, 1) & 0xff,
                    header.get(LE16, 2) & 0xffff, header.get(LE16, 4) & 0xffff, header.get(LE16, 6) & 0xffff,
                    header.get(LE16, 8) & 0xffff);
        }

        boolean plain() {
            return (flags & F_NEEDS_CSUM) == 0 && gsoType == GSO_NONE;
        }
    }

    /** Where finished frames go. */
    @FunctionalInterface
    interface FrameSink {
        void send(MemorySegment frame) throws NetException;
    }

    /** The frames sent, or why none was. */
    sealed interface Outcome {
        record Sent(int frames) implements Outcome {}

        record Dropped(String reason) implements Outcome {}
    }

    private TransmitOffload() {}

    /**
     * Sends the {@code length}-byte frame in {@code frame} to {@code sink} as the header asks, with the
     * features {@code negotiated}: as is, with its checksum completed (in place), or cut into segments built
     * in {@code scratch} (at least the headers plus gso_size bytes).
     */
    static Outcome transmit(MemorySegment frame, int length, Header header, long negotiated, MemorySegment scratch, FrameSink sink)
            throws NetException {
        int gso = header.gsoType() & ~GSO_ECN;
        if ((header.gsoType() & GSO_ECN) != 0 && (negotiated & VirtioNet.F_HOST_ECN) == 0) {
            return new Outcome.Dropped("GSO ECN flag without HOST_ECN");
        }
        if (gso == GSO_NONE) {
            if ((header.gsoType() & GSO_ECN) != 0) {
                return new Outcome.Dropped("ECN flag without a GSO type");
            }
            if ((header.flags() & F_NEEDS_CSUM) != 0) {
                if ((negotiated & VirtioNet.F_CSUM) == 0) {
                    return new Outcome.Dropped("NEEDS_CSUM without VIRTIO_NET_F_CSUM");
                }
                if (!completeChecksum(frame, length, header.csumStart(), header.csumOffset())) {
                    return new Outcome.Dropped("csum_start " + header.csumStart() + " + csum_offset " + header.csumOffset()
                            + " outside a frame of " + length + " bytes");
                }
            }
            sink.send(frame.asSlice(0, length));
            return new Outcome.Sent(1);
        }
        boolean v4 = gso == GSO_TCPV4;
        if (gso != GSO_TCPV4 && gso != GSO_TCPV6) {
            return new Outcome.Dropped("GSO type " + header.gsoType() + " not offered");
        }
        if ((negotiated & (v4 ? VirtioNet.F_HOST_TSO4 : VirtioNet.F_HOST_TSO6)) == 0) {
            return new Outcome.Dropped("GSO type " + header.gsoType() + " not negotiated");
        }
        Optional<PacketLayers> parsed = PacketLayers.parse(frame, length);
        if (parsed.isEmpty() || parsed.get().protocol() != PacketLayers.TCP || parsed.get().ipv4() != v4) {
            return new Outcome.Dropped("GSO frame is not the TCP/IPv" + (v4 ? 4 : 6) + " packet its header says");
        }
        PacketLayers layers = parsed.get();
        int headers = layers.tcpPayload(frame);
        int mss = header.gsoSize();
        if (mss < MIN_MSS || headers + mss > scratch.byteSize()) {
            return new Outcome.Dropped("gso_size " + mss + " outside " + MIN_MSS + ".." + (scratch.byteSize() - headers));
        }
        return new Outcome.Sent(segment(frame, layers, headers, mss, scratch, sink));
    }

    /** Sums from {@code start} to the end as the field holds it now (the guest's pseudo-header sum) and stores the complement. */
    static boolean completeChecksum(MemorySegment frame, int length, int start, int offset) {
        if (start >= length || start + offset + 2 > length) {
            return false;
        }
        int sum = InternetChecksum.sum(frame, start, length - start, 0);
        int checksum = ~sum & 0xffff;
        InternetChecksum.putU16(frame, start + offset, checksum == 0 ? 0xffff : checksum); // as skb_checksum_help: 0 means "none" to UDP
        return true;
    }

    /**
     * TCP segmentation: the headers before each MSS of payload, then per segment the IPv4 total length,
     * identification (+1 each) and header checksum, or the IPv6 payload length; the sequence number; FIN
     * and PSH on the last segment only, CWR on the first only; the TCP checksum over pseudo-header and segment.
     */
    private static int segment(MemorySegment packet, PacketLayers layers, int headers, int mss, MemorySegment scratch,
                               FrameSink sink) throws NetException {
        int l3 = layers.l3();
        int l4 = layers.l4();
        int firstId = layers.ipv4() ? InternetChecksum.u16(packet, l3 + 4) : 0;
        int firstSequence = InternetChecksum.u32(packet, l4 + 4);
        int flags = packet.get(ValueLayout.JAVA_BYTE, l4 + 13) & 0xff;
        return Segmenter.segment(packet, headers, layers.end(), mss, scratch, (segment, i, offset, frameLength, last) -> {
            if (layers.ipv4()) {
                int ihl = l4 - l3;
                InternetChecksum.putU16(segment, l3 + 2, frameLength - l3);
                InternetChecksum.putU16(segment, l3 + 4, firstId + i);
                InternetChecksum.putU16(segment, l3 + 10, 0);
                InternetChecksum.putU16(segment, l3 + 10, ~InternetChecksum.sum(segment, l3, ihl, 0) & 0xffff);
            } else {
                InternetChecksum.putU16(segment, l3 + 4, frameLength - l4);
            }
            InternetChecksum.putU32(segment, l4 + 4, firstSequence + offset);
            int segmentFlags = flags;
            if (!last) {
                segmentFlags &= ~(TCP_FIN | TCP_PSH);
            }
            if (i != 0) { // as Linux's tcp_gso_segment: the congestion-window-reduced mark goes with the first only
                segmentFlags &= ~TCP_CWR;
            }
            segment.set(ValueLayout.JAVA_BYTE, l4 + 13, (byte) segmentFlags);
            int l4Length = frameLength - l4;
            InternetChecksum.putU16(segment, l4 + 16, 0);
            int sum = InternetChecksum.sum(segment, l4, l4Length, layers.pseudoHeaderSum(segment, l4Length));
            InternetChecksum.putU16(segment, l4 + 16, ~sum & 0xffff);
        }, sink::send);
    }
}
