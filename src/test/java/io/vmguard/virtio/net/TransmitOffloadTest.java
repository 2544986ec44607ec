package io.vmguard.virtio.net;

import static io.vmguard.testing.NetworkBytes.putU16;
import static io.vmguard.testing.NetworkBytes.sum;
import static io.vmguard.testing.NetworkBytes.u16;
import static io.vmguard.testing.NetworkBytes.u32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.PacketLayers;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The offloads a virtio-net header asks for, on frames built as Linux's virtio_net driver hands them over
 * (TSO: lengths of the whole packet, TCP checksum field = pseudo-header sum; csum offload: the pseudo-header
 * sum in the field), checked with an independent byte-wise RFC 1071 sum; and headers that lie.
 */
class TransmitOffloadTest {
    private static final int ETH = 14, IPV4 = 20, IPV6 = 40, TCP = 20;
    private static final int FIRST_SEQUENCE = 0x7fff_f000, FIRST_ID = 0x1234, FLAGS = 0x80 | 0x18 | 0x01; // CWR, ACK, PSH, FIN
    private static final long ALL = VirtioNet.OFFLOADS;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment scratch = arena.allocate(VirtioNet.MAX_FRAME);
    private final List<byte[]> sent = new ArrayList<>();

    @AfterEach
    void close() {
        arena.close();
    }

    private TransmitOffload.Outcome transmit(byte[] frame, TransmitOffload.Header header, long negotiated) throws Exception {
        MemorySegment segment = arena.allocate(frame.length);
        MemorySegment.copy(frame, 0, segment, ValueLayout.JAVA_BYTE, 0, frame.length);
        return TransmitOffload.transmit(segment, frame.length, header, negotiated, scratch,
                out -> sent.add(out.toArray(ValueLayout.JAVA_BYTE)));
    }

    private static TransmitOffload.Header tso(int type, int mss, int headers) {
        return new TransmitOffload.Header(TransmitOffload.F_NEEDS_CSUM, type, headers, mss, headers - TCP, 16);
    }

    @Test
    void tsoOverIpv4CutsMssSegmentsWithTheirOwnLengthsIdsSequencesFlagsAndValidChecksums() throws Exception {
        byte[] payload = payload(5000, 7);
        int mss = 1448;
        TransmitOffload.Outcome outcome = transmit(tcp(payload, false, true), tso(TransmitOffload.GSO_TCPV4, mss, ETH + IPV4 + TCP), ALL);
        assertEquals(new TransmitOffload.Outcome.Sent(4), outcome);
        assertSegments(payload, mss, false);
    }

    @Test
    void tsoOverIpv6CutsSegmentsWithPayloadLengthsAndValidChecksums() throws Exception {
        byte[] payload = payload(4000, 3);
        int mss = 1428;
        TransmitOffload.Outcome outcome = transmit(tcp(payload, true, true), tso(TransmitOffload.GSO_TCPV6, mss, ETH + IPV6 + TCP), ALL);
        assertEquals(new TransmitOffload.Outcome.Sent(3), outcome);
        assertSegments(payload, mss, true);
    }

    @Test
    void theLargestGsoFrameLinuxSendsBecomesFullSegments() throws Exception {
        byte[] payload = payload(VirtioNet.MAX_GSO_FRAME - 4 - ETH - IPV4 - TCP, 11);
        int mss = 1448;
        TransmitOffload.Outcome outcome = transmit(tcp(payload, false, true), tso(TransmitOffload.GSO_TCPV4, mss, ETH + IPV4 + TCP), ALL);
        assertEquals(new TransmitOffload.Outcome.Sent((payload.length + mss - 1) / mss), outcome);
        assertSegments(payload, mss, false);
    }

    private void assertSegments(byte[] payload, int mss, boolean v6) {
        int headers = ETH + (v6 ? IPV6 : IPV4) + TCP;
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 0; i < sent.size(); i++) {
            byte[] frame = sent.get(i);
            int size = Math.min(mss, payload.length - i * mss);
            assertEquals(headers + size, frame.length, "length of segment " + i);
            if (v6) {
                assertEquals(TCP + size, u16(frame, ETH + 4), "IPv6 payload length of segment " + i);
            } else {
                assertEquals(frame.length - ETH, u16(frame, ETH + 2), "IP total length of segment " + i);
                assertEquals(FIRST_ID + i, u16(frame, ETH + 4), "IP id of segment " + i);
                assertEquals(0xffff, sum(frame, ETH, IPV4, 0), "IP header checksum of segment " + i);
            }
            int l4 = headers - TCP;
            assertEquals(FIRST_SEQUENCE + i * mss, u32(frame, l4 + 4), "sequence of segment " + i);
            int expected = FLAGS;
            if (i != sent.size() - 1) {
                expected &= ~0x09;
            }
            if (i != 0) {
                expected &= ~0x80;
            }
            assertEquals(expected, frame[l4 + 13] & 0xff, "FIN and PSH on the last segment only, CWR on the first only");
            assertTrue(transportValid(frame, v6), "TCP checksum of segment " + i);
            joined.writeBytes(java.util.Arrays.copyOfRange(frame, headers, frame.length));
        }
        assertArrayEquals(payload, joined.toByteArray(), "the segments carry the payload in order");
    }

    @Test
    void checksumOffloadCompletesTheSumFromCsumStartAndSendsTheFrameAsIs() throws Exception {
        byte[] frame = tcp(payload(777, 5), false, false);
        TransmitOffload.Header header = new TransmitOffload.Header(TransmitOffload.F_NEEDS_CSUM, 0, 0, 0, ETH + IPV4, 16);
        assertEquals(new TransmitOffload.Outcome.Sent(1), transmit(frame, header, VirtioNet.F_CSUM));
        assertFalse(transportValid(frame, false), "not valid before the device completes it");
        assertTrue(transportValid(sent.getFirst(), false));
        assertEquals(frame.length, sent.getFirst().length);
    }

    @Test
    void lyingHeadersDropTheFrameAndSendNothing() throws Exception {
        byte[] v4 = tcp(payload(3000, 3), false, true);
        byte[] v6 = tcp(payload(3000, 3), true, true);
        int headers = ETH + IPV4 + TCP;
        record Lie(String what, byte[] frame, TransmitOffload.Header header, long negotiated) {}
        List<Lie> lies = List.of(
                new Lie("gso_size 0", v4, tso(TransmitOffload.GSO_TCPV4, 0, headers), ALL),
                new Lie("gso_size below the minimum", v4, tso(TransmitOffload.GSO_TCPV4, TransmitOffload.MIN_MSS - 1, headers), ALL),
                new Lie("gso_size past the segment buffer", v4, tso(TransmitOffload.GSO_TCPV4, VirtioNet.MAX_FRAME, headers), ALL),
                new Lie("TCPV4 on an IPv6 frame", v6, tso(TransmitOffload.GSO_TCPV4, 1400, headers), ALL),
                new Lie("TCPV6 on an IPv4 frame", v4, tso(TransmitOffload.GSO_TCPV6, 1400, headers), ALL),
                new Lie("UDP fragmentation, not offered", v4, tso(TransmitOffload.GSO_UDP, 1400, headers), ALL),
                new Lie("an unknown GSO type", v4, tso(7, 1400, headers), ALL),
                new Lie("TSO4 not negotiated", v4, tso(TransmitOffload.GSO_TCPV4, 1400, headers), VirtioNet.F_CSUM),
                new Lie("ECN not negotiated", v4, tso(TransmitOffload.GSO_TCPV4 | TransmitOffload.GSO_ECN, 1400, headers),
                        ALL & ~VirtioNet.F_HOST_ECN),
                new Lie("ECN without GSO", v4, new TransmitOffload.Header(0, TransmitOffload.GSO_ECN, 0, 0, 0, 0), ALL),
                new Lie("csum_start past the frame", v4, new TransmitOffload.Header(1, 0, 0, 0, v4.length, 0), ALL),
                new Lie("csum_offset past the frame", v4, new TransmitOffload.Header(1, 0, 0, 0, ETH, v4.length - ETH - 1), ALL),
                new Lie("csum_start at 0xffff", v4, new TransmitOffload.Header(1, 0, 0, 0, 0xffff, 0xffff), ALL),
                new Lie("NEEDS_CSUM not negotiated", v4, new TransmitOffload.Header(1, 0, 0, 0, ETH + IPV4, 16), 0),
                new Lie("a GSO frame whose IP length exceeds the frame", truncated(v4, 2000), tso(TransmitOffload.GSO_TCPV4, 1400, headers), ALL),
                new Lie("a GSO frame that is not IP", notIp(v4), tso(TransmitOffload.GSO_TCPV4, 1400, headers), ALL));
        for (Lie lie : lies) {
            assertInstanceOf(TransmitOffload.Outcome.Dropped.class, transmit(lie.frame(), lie.header(), lie.negotiated()), lie.what());
        }
        assertTrue(sent.isEmpty());
    }

    @Test
    void aReceivedFramesChecksumIsVerifiedOnlyWhenRight() {
        byte[] frame = tcp(payload(1000, 9), false, false);
        MemorySegment good = arena.allocate(frame.length);
        MemorySegment.copy(frame, 0, good, ValueLayout.JAVA_BYTE, 0, frame.length);
        assertTrue(TransmitOffload.completeChecksum(good, frame.length, ETH + IPV4, 16));
        assertTrue(PacketLayers.parse(good, frame.length).orElseThrow().checksumValid(good));
        good.set(ValueLayout.JAVA_BYTE, frame.length - 1, (byte) (good.get(ValueLayout.JAVA_BYTE, frame.length - 1) + 1));
        assertFalse(PacketLayers.parse(good, frame.length).orElseThrow().checksumValid(good), "a changed byte fails the check");
        assertTrue(PacketLayers.parse(good, 30).isEmpty(), "a frame cut inside its headers is not parsed");
    }

    // --- frames as Linux builds them, and an independent check ---

    static byte[] payload(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + seed);
        }
        return bytes;
    }

    private static final byte[] SRC4 = {10, 0, 3, 2}, DST4 = {10, 0, 3, 1};
    private static final byte[] SRC6 = ipv6(2), DST6 = ipv6(1);

    private static byte[] ipv6(int last) {
        byte[] a = new byte[16];
        a[0] = (byte) 0xfd;
        a[15] = (byte) last;
        return a;
    }

    /** A TCP frame with the whole packet's lengths and the pseudo-header sum (with the length) in the checksum field. */
    static byte[] tcp(byte[] payload, boolean v6, boolean gso) {
        int ip = v6 ? IPV6 : IPV4;
        ByteBuffer b = ByteBuffer.allocate(ETH + ip + TCP + payload.length);
        b.put(new byte[] {0x52, 0x54, 0, 0, 0, 1}).put(new byte[] {0x52, 0x54, 0, 0, 0, 2}).putShort((short) (v6 ? 0x86dd : 0x0800));
        if (v6) {
            b.putInt(0x6000_0000).putShort((short) (TCP + payload.length)).put((byte) 6).put((byte) 64).put(SRC6).put(DST6);
        } else {
            b.put((byte) 0x45).put((byte) 0).putShort((short) (IPV4 + TCP + payload.length)).putShort((short) FIRST_ID)
                    .putShort((short) 0x4000).put((byte) 64).put((byte) 6).putShort((short) 0).put(SRC4).put(DST4);
        }
        b.putShort((short) 40000).putShort((short) 5001).putInt(FIRST_SEQUENCE).putInt(1).put((byte) 0x50)
                .put((byte) (gso ? FLAGS : 0x18)).putShort((short) 502).putShort((short) 0).putShort((short) 0);
        b.put(payload);
        byte[] frame = b.array();
        if (!v6) {
            putU16(frame, ETH + 10, ~sum(frame, ETH, IPV4, 0) & 0xffff);
        }
        putU16(frame, ETH + ip + 16, pseudo(v6, TCP + payload.length));
        return frame;
    }

    private static byte[] truncated(byte[] frame, int length) {
        return java.util.Arrays.copyOf(frame, length);
    }

    private static byte[] notIp(byte[] frame) {
        byte[] copy = frame.clone();
        putU16(copy, 12, 0x0806);
        return copy;
    }

    private static int pseudo(boolean v6, int length) {
        byte[] p = new byte[v6 ? 40 : 12];
        System.arraycopy(v6 ? SRC6 : SRC4, 0, p, 0, v6 ? 16 : 4);
        System.arraycopy(v6 ? DST6 : DST4, 0, p, v6 ? 16 : 4, v6 ? 16 : 4);
        if (v6) {
            putU16(p, 34, length);
            p[39] = 6;
        } else {
            p[9] = 6;
            putU16(p, 10, length);
        }
        return sum(p, 0, p.length, 0);
    }

    static boolean transportValid(byte[] frame, boolean v6) {
        int l4 = ETH + (v6 ? IPV6 : IPV4);
        int length = frame.length - l4;
        return sum(frame, l4, length, pseudo(v6, length)) == 0xffff;
    }
}
