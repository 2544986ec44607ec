package io.vmguard.devices.e1000;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.NetworkBytes;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Checksum insertion and TSO, checked against checksums computed independently ({@link Packets#sum}). */
class OffloadTest {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment scratch = arena.allocate(Transmitter.MAX_PACKET);
    private final List<byte[]> sent = new ArrayList<>();

    @AfterEach
    void close() {
        arena.close();
    }

    private MemorySegment segmentOf(byte[] packet) {
        MemorySegment segment = arena.allocate(packet.length);
        MemorySegment.copy(packet, 0, segment, ValueLayout.JAVA_BYTE, 0, packet.length);
        return segment;
    }

    private int segment(byte[] packet, OffloadContext context, int popts) {
        return Offload.segment(segmentOf(packet), packet.length, context, popts, scratch,
                frame -> sent.add(frame.toArray(ValueLayout.JAVA_BYTE)));
    }

    @Test
    void tsoCutsThePayloadIntoMssSegmentsWithTheirOwnHeadersAndValidChecksums() {
        byte[] payload = Packets.payload(5000, 7);
        int mss = 1448;
        int segments = segment(Packets.tcp(payload, true), Packets.tsoContext(payload.length, mss),
                Offload.POPTS_IXSM | Offload.POPTS_TXSM);
        assertEquals(4, segments);
        assertEquals(4, sent.size());
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 0; i < sent.size(); i++) {
            byte[] frame = sent.get(i);
            int size = Math.min(mss, payload.length - i * mss);
            assertEquals(Packets.HEADER + size, frame.length);
            assertEquals(frame.length - Packets.ETH, NetworkBytes.u16(frame, Packets.ETH + 2), "IP total length of segment " + i);
            assertEquals(Packets.FIRST_ID + i, NetworkBytes.u16(frame, Packets.ETH + 4), "IP id of segment " + i);
            assertEquals(Packets.FIRST_SEQUENCE + i * mss, NetworkBytes.u32(frame, Packets.ETH + Packets.IP + 4), "sequence of segment " + i);
            int flags = frame[Packets.ETH + Packets.IP + 13] & 0xff;
            assertEquals(i == sent.size() - 1 ? Packets.FLAGS : Packets.FLAGS & ~0x09, flags, "FIN and PSH on the last segment only");
            assertTrue(Packets.checksumsValid(frame, 6, Packets.TCP), "IP and TCP checksums of segment " + i);
            joined.writeBytes(Packets.slice(frame, Packets.HEADER, frame.length));
        }
        assertArrayEquals(payload, joined.toByteArray(), "the segments carry the payload in order");
    }

    @Test
    void tsoOfAPayloadBelowOneMssSendsOneSegment() {
        byte[] payload = Packets.payload(100, 1);
        assertEquals(1, segment(Packets.tcp(payload, true), Packets.tsoContext(100, 1448), Offload.POPTS_IXSM | Offload.POPTS_TXSM));
        assertTrue(Packets.checksumsValid(sent.getFirst(), 6, Packets.TCP));
    }

    @Test
    void absurdTsoContextsAreRefusedAndSendNothing() {
        byte[] packet = Packets.tcp(Packets.payload(3000, 3), true);
        OffloadContext good = Packets.tsoContext(3000, 1448);
        List<OffloadContext> bad = List.of(
                withMss(good, 0),
                withMss(good, Offload.MIN_MSS - 1),
                withHeader(good, packet.length + 1),
                withHeader(good, 0),
                withHeader(good, 30), // shorter than Ethernet + IP + TCP
                new OffloadContext(14, 250, 33, 34, 50, 0, 3000, true, true, true, 54, 1448), // IP checksum field beyond the header
                new OffloadContext(14, 24, 33, 34, 200, 0, 3000, true, true, true, 54, 1448)); // TCP checksum field beyond it
        for (OffloadContext context : bad) {
            assertEquals(-1, segment(packet, context, Offload.POPTS_IXSM | Offload.POPTS_TXSM), context.toString());
        }
        assertTrue(sent.isEmpty());
    }

    private static OffloadContext withMss(OffloadContext c, int mss) {
        return new OffloadContext(c.ipcss(), c.ipcso(), c.ipcse(), c.tucss(), c.tucso(), c.tucse(), c.payloadLength(), c.tcp(),
                c.ipv4(), c.tse(), c.headerLength(), mss);
    }

    private static OffloadContext withHeader(OffloadContext c, int header) {
        return new OffloadContext(c.ipcss(), c.ipcso(), c.ipcse(), c.tucss(), c.tucso(), c.tucse(), c.payloadLength(), c.tcp(),
                c.ipv4(), c.tse(), header, c.mss());
    }

    @Test
    void checksumOffloadCompletesTcpAndUdpChecksumsFromThePseudoHeaderSum() {
        byte[] tcp = Packets.tcp(Packets.payload(777, 5), false);
        MemorySegment frame = segmentOf(tcp);
        assertTrue(Offload.insertChecksums(frame, tcp.length, Packets.checksumContext(34, 16), Offload.POPTS_TXSM));
        assertTrue(Packets.checksumsValid(frame.toArray(ValueLayout.JAVA_BYTE), 6, Packets.TCP));

        byte[] udp = Packets.udp(Packets.payload(333, 9));
        frame = segmentOf(udp);
        assertFalse(Packets.checksumsValid(udp, 17, Packets.UDP), "not valid before the card fills it");
        assertTrue(Offload.insertChecksums(frame, udp.length, Packets.checksumContext(34, 6), Offload.POPTS_TXSM));
        assertTrue(Packets.checksumsValid(frame.toArray(ValueLayout.JAVA_BYTE), 17, Packets.UDP));
    }

    @Test
    void theIpChecksumIsInsertedOverItsRange() {
        byte[] tcp = Packets.tcp(Packets.payload(64, 2), false);
        NetworkBytes.putU16(tcp, Packets.ETH + 10, 0);
        MemorySegment frame = segmentOf(tcp);
        OffloadContext ip = new OffloadContext(14, 24, 33, 34, 50, 0, 0, true, true, false, 0, 0);
        assertTrue(Offload.insertChecksums(frame, tcp.length, ip, Offload.POPTS_IXSM | Offload.POPTS_TXSM));
        assertTrue(Packets.checksumsValid(frame.toArray(ValueLayout.JAVA_BYTE), 6, Packets.TCP));
    }

    @Test
    void checksumOffsetsOutsideTheFrameAreRefused() {
        byte[] udp = Packets.udp(Packets.payload(10, 1));
        MemorySegment frame = segmentOf(udp);
        assertFalse(Offload.insertChecksums(frame, udp.length, Packets.checksumContext(udp.length, 6), Offload.POPTS_TXSM));
        assertFalse(Offload.insertChecksums(frame, udp.length, Packets.checksumContext(34, 250), Offload.POPTS_TXSM));
        assertFalse(Offload.insertLegacy(frame, udp.length, 34, udp.length - 1), "a field that runs past the end");
        assertFalse(Offload.insertChecksums(frame, udp.length,
                new OffloadContext(0, 0, 0, 40, 40, 30, 0, false, false, false, 0, 0), Offload.POPTS_TXSM), "end before start");
    }
}
