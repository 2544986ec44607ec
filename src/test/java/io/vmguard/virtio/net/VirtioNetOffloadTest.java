package io.vmguard.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A card with offloads between a driver's rings and a real socket: a TSO frame leaves as MSS segments, a lying
 * header loses its frame (counted, the queue and the next frame unharmed), and a received frame is marked
 * DATA_VALID exactly when its checksum is right.
 */
class VirtioNetOffloadTest {
    private static final int HEADERS = 14 + 20 + 20;

    @TempDir
    Path dir;

    private VirtioNetRig rig;

    @BeforeEach
    void connect() throws Exception {
        rig = new VirtioNetRig(dir, 1 << 20, 16, "test-net-rx", null, true, VirtioNetRig.FEATURES | VirtioNet.OFFLOADS);
    }

    @AfterEach
    void close() {
        rig.close();
    }

    private int send(byte[] frame, int flags, int gsoType, int gsoSize, int csumStart, int csumOffset) throws Exception {
        byte[] header = ByteBuffer.allocate(VirtioNet.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN).put((byte) flags)
                .put((byte) gsoType).putShort((short) HEADERS).putShort((short) gsoSize).putShort((short) csumStart)
                .putShort((short) csumOffset).putShort((short) 0).array();
        int head = rig.transmit.offer(DriverRings.Buffer.readable(rig.ram.put(header), header.length),
                DriverRings.Buffer.readable(rig.ram.put(frame), frame.length));
        rig.device.queueNotified(VirtioNet.TRANSMIT_QUEUE);
        return head;
    }

    private byte[] fromWire() throws Exception {
        MemorySegment buffer = rig.arena.allocate(65536);
        int length = rig.wire.receive(buffer, Duration.ofSeconds(5));
        assertTrue(length > 0, "a frame on the wire");
        return buffer.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void aTsoFrameLeavesAsMssSegmentsWithValidChecksums() throws Exception {
        byte[] payload = TransmitOffloadTest.payload(4000, 5);
        int head = send(TransmitOffloadTest.tcp(payload, false, true), TransmitOffload.F_NEEDS_CSUM, TransmitOffload.GSO_TCPV4,
                1448, HEADERS - 20, 16);
        for (int size : List.of(1448, 1448, 1104)) {
            byte[] segment = fromWire();
            assertEquals(HEADERS + size, segment.length);
            assertTrue(TransmitOffloadTest.transportValid(segment, false));
        }
        assertEquals(List.of(new DriverRings.Used(head, 0)), rig.transmit.takeUsed());
        assertEquals(0, rig.device.dropped());
    }

    @Test
    void aLyingHeaderLosesItsFrameAndNothingElse() throws Exception {
        byte[] frame = TransmitOffloadTest.tcp(TransmitOffloadTest.payload(3000, 1), false, true);
        int lie = send(frame, TransmitOffload.F_NEEDS_CSUM, TransmitOffload.GSO_TCPV4, 1, HEADERS - 20, 16);
        int bad = send(frame, TransmitOffload.F_NEEDS_CSUM, 0, 0, 0xfff0, 0xfff0);
        byte[] plain = VirtioNetRig.frame(200, 9);
        int good = send(plain, 0, 0, 0, 0, 0);
        assertEquals(200, fromWire().length, "only the honest frame went out");
        assertEquals(List.of(new DriverRings.Used(lie, 0), new DriverRings.Used(bad, 0), new DriverRings.Used(good, 0)),
                rig.transmit.takeUsed());
        assertEquals(2, rig.device.dropped());
        assertEquals(2, rig.device.counters().errors());
        assertTrue(rig.interrupts.failures().isEmpty(), "a lying header is not a broken queue");
    }

    @Test
    void aReceivedFrameIsMarkedDataValidOnlyWhenItsChecksumIsRight() throws Exception {
        byte[] good = TransmitOffloadTest.tcp(TransmitOffloadTest.payload(500, 3), false, false);
        MemorySegment segment = rig.arena.allocateFrom(ValueLayout.JAVA_BYTE, good);
        assertTrue(TransmitOffload.completeChecksum(segment, good.length, HEADERS - 20, 16));
        good = segment.toArray(ValueLayout.JAVA_BYTE);
        byte[] corrupt = good.clone();
        corrupt[corrupt.length - 1] ^= 0x40;
        assertEquals(TransmitOffload.F_DATA_VALID, receiveFlags(good));
        assertEquals(0, receiveFlags(corrupt), "a wrong checksum is left for the guest to find");
        assertEquals(0, receiveFlags(VirtioNetRig.frame(100, 4)), "not TCP/UDP: nothing said");
    }

    private int receiveFlags(byte[] frame) throws Exception {
        long buffer = rig.ram.alloc(1526);
        rig.receive.offer(DriverRings.Buffer.writable(buffer, 1526));
        rig.device.queueNotified(VirtioNet.RECEIVE_QUEUE);
        assertTrue(rig.wire.send(rig.arena.allocateFrom(ValueLayout.JAVA_BYTE, frame)));
        for (int i = 0; i < 500 && rig.receive.takeUsed().isEmpty(); i++) {
            Thread.sleep(10);
        }
        return rig.ram.read(buffer, 1)[0];
    }
}
