package io.vmguard.devices.e1000;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.MacAddress;
import io.vmguard.net.UnixDatagramBackend;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.NetworkBytes;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card between a driver's rings in test guest RAM and a real socket backend whose other end the test
 * holds: the register protocol, transmit and receive as Linux's e1000 driver uses them, and every kind of
 * lie a guest can tell (each bounded, counted, and never an exception out of the device).
 */
class E1000Test {
    static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");
    private static final int RING = 16;

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(1 << 20);
    private final Arena arena = Arena.ofShared();
    private UnixDatagramBackend wire;
    private E1000 card;
    private long txRing;
    private long rxRing;

    @BeforeEach
    void connect() throws Exception {
        Path vm = dir.resolve("vm.sock");
        Path peer = dir.resolve("peer.sock");
        wire = UnixDatagramBackend.open(peer, vm);
        card = new E1000(ram.dma(), UnixDatagramBackend.open(vm, peer), MAC, "test-e1000");
        card.config().write(PciConfigSpace.COMMAND, 2,
                PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        txRing = ram.alloc(RING * 16L);
        rxRing = ram.alloc(RING * 16L);
    }

    @AfterEach
    void close() {
        card.close();
        wire.close();
        arena.close();
    }

    // ---- the driver's side ----

    int read(int register) {
        MemorySegment data = arena.allocate(4);
        card.readBar(E1000.REGISTER_BAR, register, data);
        return data.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    void write(int register, int value) {
        card.writeBar(E1000.REGISTER_BAR, register, arena.allocateFrom(ValueLayout.JAVA_INT_UNALIGNED, value));
    }

    /** e1000_configure_tx: ring base, length, head = tail = 0, transmitter on. */
    void setUpTransmit() {
        write(Reg.TDBAL, (int) txRing);
        write(Reg.TDBAH, 0);
        write(Reg.TDLEN, RING * 16);
        write(Reg.TDH, 0);
        write(Reg.TDT, 0);
        write(Reg.TCTL, Reg.TCTL_EN);
    }

    /** e1000_configure_rx with {@code buffers} 2 KiB buffers handed over (RDT = buffers). */
    long[] setUpReceive(int buffers, int rctl) {
        long[] addresses = new long[RING];
        for (int i = 0; i < RING; i++) {
            addresses[i] = ram.alloc(2048);
            putDescriptor(rxRing, i, addresses[i], 0, 0);
        }
        write(Reg.RDBAL, (int) rxRing);
        write(Reg.RDLEN, RING * 16);
        write(Reg.RDH, 0);
        write(Reg.RDT, buffers);
        write(Reg.RCTL, Reg.RCTL_EN | Reg.RCTL_BAM | rctl);
        return addresses;
    }

    void putDescriptor(long ring, int index, long address, int lower, int upper) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(address).putInt(lower).putInt(upper);
        ram.memory().write(ring + index * 16L, b.array());
    }

    ByteBuffer descriptor(long ring, int index) {
        return ByteBuffer.wrap(ram.read(ring + index * 16L, 16)).order(ByteOrder.LITTLE_ENDIAN);
    }

    static int legacy(int length, int cmd) {
        return length | cmd;
    }

    byte[] receiveFromWire() throws Exception {
        MemorySegment buffer = arena.allocate(70000);
        int length = wire.receive(buffer, Duration.ofSeconds(5));
        assertTrue(length > 0, "a frame reached the wire");
        return buffer.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    boolean wireIsQuiet() throws Exception {
        return wire.receive(arena.allocate(70000), Duration.ofMillis(200)) == 0;
    }

    static byte[] frame(byte[] destination, int length, int seed) {
        byte[] frame = Packets.payload(length, seed);
        System.arraycopy(destination, 0, frame, 0, 6);
        return frame;
    }

    // ---- registers ----

    @Test
    void statusReportsLinkUpAtGigabitFullDuplexOnCopper() {
        int status = read(Reg.STATUS);
        assertEquals(Reg.STATUS_LU | Reg.STATUS_FD | Reg.STATUS_SPEED_1000, status & 0xff);
        assertEquals(0, status & (1 << 5), "TBIMODE clear: a copper PHY");
        assertEquals(0, status & (1 << 13), "not PCI-X, so Linux uses a 32-bit DMA mask");
    }

    @Test
    void icrIsReadToClearAndTheLineFollowsIcrAndIms() {
        write(Reg.ICS, Reg.ICR_LSC);
        assertFalse(card.config().interruptRequested(), "masked: no interrupt");
        write(Reg.IMS, Reg.ICR_LSC | Reg.ICR_RXT0);
        assertTrue(card.config().interruptRequested());
        assertEquals(Reg.ICR_LSC | Reg.ICR_RXT0, read(Reg.IMS));
        assertEquals(Reg.ICR_LSC | Reg.ICR_INT_ASSERTED, read(Reg.ICR));
        assertFalse(card.config().interruptRequested(), "reading ICR clears it and lowers the line");
        assertEquals(0, read(Reg.ICR), "Linux's handler sees 0 and returns IRQ_NONE");
        write(Reg.ICS, Reg.ICR_RXT0);
        write(Reg.IMC, -1);
        assertFalse(card.config().interruptRequested(), "IMC masks");
        assertEquals(Reg.ICR_RXT0, read(Reg.ICR), "the cause stays in ICR while masked");
    }

    @Test
    void itrSpacesAssertionsByItsInterval() throws Exception {
        write(Reg.ITR, 0xffff); // 0xffff x 256 ns: about 16.8 ms
        write(Reg.IMS, Reg.ICR_TXDW);
        write(Reg.ICS, Reg.ICR_TXDW);
        assertTrue(card.config().interruptRequested(), "the first assertion is at once");
        read(Reg.ICR);
        write(Reg.ICS, Reg.ICR_TXDW);
        assertFalse(card.config().interruptRequested(), "the next waits for the interval");
        long start = System.nanoTime();
        while (!card.config().interruptRequested() && System.nanoTime() - start < 2_000_000_000L) {
            Thread.sleep(1);
        }
        assertTrue(card.config().interruptRequested(), "then it comes");
        assertTrue(System.nanoTime() - start >= 10_000_000L, "not before most of the interval has passed");
    }

    @Test
    void unknownRegistersReadZeroAndOddWidthsAreIgnored() {
        write(0x1f000, 0x12345678);
        assertEquals(0, read(0x1f000));
        MemorySegment twoBytes = arena.allocate(2);
        card.writeBar(E1000.REGISTER_BAR, Reg.RDBAL, arena.allocateFrom(ValueLayout.JAVA_SHORT_UNALIGNED, (short) 0x1230));
        assertEquals(0, read(Reg.RDBAL));
        card.readBar(E1000.REGISTER_BAR, Reg.STATUS + 1, twoBytes);
        assertEquals(0, twoBytes.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
    }

    @Test
    void theReceiveAddressComesFromTheEepromsMac() {
        assertEquals(0x12005452, read(Reg.RA));
        assertEquals(0x5634 | Reg.RAH_AV, read(Reg.RA + 4));
    }

    @Test
    void theIoBarReachesEveryRegisterAndResetsTheCardAsLinuxDoesFor82540() {
        MemorySegment port = arena.allocate(4);
        write(Reg.IMS, Reg.ICR_LSC);
        card.writeBar(E1000.IO_BAR, E1000.IOADDR, arena.allocateFrom(ValueLayout.JAVA_INT_UNALIGNED, Reg.STATUS));
        card.readBar(E1000.IO_BAR, E1000.IODATA, port);
        assertEquals(read(Reg.STATUS), port.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        card.writeBar(E1000.IO_BAR, E1000.IOADDR, arena.allocateFrom(ValueLayout.JAVA_INT_UNALIGNED, Reg.CTRL));
        card.writeBar(E1000.IO_BAR, E1000.IODATA, arena.allocateFrom(ValueLayout.JAVA_INT_UNALIGNED, read(Reg.CTRL) | Reg.CTRL_RST));
        assertEquals(0, read(Reg.IMS), "the reset cleared the mask");
        assertEquals(0, read(Reg.CTRL) & Reg.CTRL_RST, "RST self-clears");
    }

    @Test
    void theEepromReadsThroughEecdAsLinuxDoes() {
        Eeprom view = new Eeprom(MAC);
        int sum = 0;
        for (int word = 0; word < Eeprom.WORDS; word++) {
            int value = readEepromThroughRegisters(word);
            assertEquals(view.word(word), value);
            sum += value;
        }
        assertEquals(0xbaba, sum & 0xffff);
    }

    private int readEepromThroughRegisters(int word) {
        int eecd = read(Reg.EECD) | Eeprom.EECD_REQ | Eeprom.EECD_CS;
        write(Reg.EECD, eecd);
        for (int bit = 8; bit >= 0; bit--) {
            int command = 0b110 << 6 | word;
            eecd = (command >> bit & 1) != 0 ? eecd | Eeprom.EECD_DI : eecd & ~Eeprom.EECD_DI;
            write(Reg.EECD, eecd);
            write(Reg.EECD, eecd | Eeprom.EECD_SK);
            write(Reg.EECD, eecd);
        }
        int data = 0;
        for (int i = 0; i < 16; i++) {
            write(Reg.EECD, eecd | Eeprom.EECD_SK);
            data = data << 1 | ((read(Reg.EECD) & Eeprom.EECD_DO) != 0 ? 1 : 0);
            write(Reg.EECD, eecd);
        }
        write(Reg.EECD, 0);
        return data;
    }

    @Test
    void mdicReadsThePhyAndRaisesMdacWhenAsked() {
        write(Reg.IMS, Reg.ICR_MDAC);
        write(Reg.MDIC, 2 << 26 | 1 << 21 | Phy.ID2 << 16 | Phy.MDIC_INT_EN);
        int mdic = read(Reg.MDIC);
        assertEquals(Phy.MDIC_READY, mdic & (Phy.MDIC_READY | Phy.MDIC_ERROR));
        assertEquals(0x0c20, mdic & 0xffff);
        assertEquals(Reg.ICR_MDAC, read(Reg.ICR) & Reg.ICR_MDAC);
    }

    // ---- transmit ----

    @Test
    void aLegacyDescriptorSendsItsFrameAndWritesBackDone() throws Exception {
        setUpTransmit();
        write(Reg.IMS, Reg.ICR_TXDW);
        byte[] frame = frame(new byte[] {2, 0, 0, 0, 0, 9}, 1514, 3);
        putDescriptor(txRing, 0, ram.put(frame), legacy(frame.length, Transmitter.CMD_EOP | Transmitter.CMD_IFCS | Transmitter.CMD_RS), 0);
        write(Reg.TDT, 1);
        assertArrayEquals(frame, receiveFromWire());
        assertEquals(1, read(Reg.TDH));
        assertEquals(Transmitter.STA_DD, descriptor(txRing, 0).get(12) & 0xf);
        assertTrue(card.config().interruptRequested(), "TXDW");
        assertEquals(Reg.ICR_TXDW | Reg.ICR_TXQE, read(Reg.ICR) & 0xff);
        assertEquals(1, read(Reg.GPTC), "good packets transmitted");
        assertEquals(0, read(Reg.GPTC), "statistics clear when read");
    }

    @Test
    void aPacketGatheredFromSeveralDescriptorsLeavesAsOneFrame() throws Exception {
        setUpTransmit();
        byte[] frame = frame(new byte[] {2, 0, 0, 0, 0, 9}, 900, 4);
        putDescriptor(txRing, 0, ram.put(Packets.slice(frame, 0, 100)), legacy(100, 0), 0);
        putDescriptor(txRing, 1, ram.put(new byte[0]), legacy(0, 0), 0); // zero length: nothing to add
        putDescriptor(txRing, 2, ram.put(Packets.slice(frame, 100, 900)), legacy(800, Transmitter.CMD_EOP | Transmitter.CMD_RS), 0);
        write(Reg.TDT, 3);
        assertArrayEquals(frame, receiveFromWire());
        assertEquals(0, descriptor(txRing, 0).get(12) & Transmitter.STA_DD, "no RS, no write-back");
        assertEquals(Transmitter.STA_DD, descriptor(txRing, 2).get(12) & Transmitter.STA_DD);
    }

    @Test
    void legacyChecksumInsertionFillsTheFieldAtCso() throws Exception {
        setUpTransmit();
        byte[] udp = Packets.udp(Packets.payload(200, 6));
        int upper = 34 << 8; // CSS: the UDP header
        putDescriptor(txRing, 0, ram.put(udp), legacy(udp.length, Transmitter.CMD_EOP | Transmitter.CMD_IC) | 40 << 16, upper);
        write(Reg.TDT, 1);
        assertTrue(Packets.checksumsValid(receiveFromWire(), 17, Packets.UDP));
        assertEquals(1, card.counters().checksumOffloads());
    }

    /** As Linux's e1000_tso + e1000_tx_map: a context descriptor, then data descriptors with TSE, IXSM and TXSM. */
    @Test
    void tsoThroughTheRingSendsValidSegmentsAndCountsThem() throws Exception {
        setUpTransmit();
        byte[] payload = Packets.payload(4000, 8);
        byte[] packet = Packets.tcp(payload, true);
        OffloadContext context = Packets.tsoContext(payload.length, 1448);
        putContext(0, context);
        int dcmd = Transmitter.CMD_DEXT | 1 << 20 | Transmitter.CMD_TSE;
        int popts = (Offload.POPTS_IXSM | Offload.POPTS_TXSM) << 8;
        putDescriptor(txRing, 1, ram.put(Packets.slice(packet, 0, Packets.HEADER)), dcmd | Packets.HEADER, popts);
        putDescriptor(txRing, 2, ram.put(Packets.slice(packet, Packets.HEADER, packet.length)),
                dcmd | Transmitter.CMD_EOP | Transmitter.CMD_RS | payload.length, popts);
        write(Reg.TDT, 3);
        for (int i = 0; i < 3; i++) {
            byte[] segment = receiveFromWire();
            assertTrue(Packets.checksumsValid(segment, 6, Packets.TCP), "segment " + i);
            assertEquals(Packets.FIRST_SEQUENCE + i * 1448, NetworkBytes.u32(segment, Packets.ETH + Packets.IP + 4));
        }
        assertTrue(wireIsQuiet());
        E1000Counters counters = card.counters();
        assertEquals(1, counters.tsoPackets());
        assertEquals(3, counters.tsoSegments());
        assertEquals(3, counters.txFrames());
    }

    void putContext(int index, OffloadContext c) {
        long low = c.ipcss() | (long) c.ipcso() << 8 | (long) c.ipcse() << 16 | (long) c.tucss() << 32 | (long) c.tucso() << 40
                | (long) c.tucse() << 48;
        int tucmd = (c.tcp() ? OffloadContext.TUCMD_TCP : 0) | (c.ipv4() ? OffloadContext.TUCMD_IP : 0)
                | (c.tse() ? OffloadContext.TUCMD_TSE : 0);
        int lower = c.payloadLength() | tucmd << 24 | Transmitter.CMD_DEXT;
        int upper = c.headerLength() << 8 | c.mss() << 16;
        putDescriptor(txRing, index, low, lower, upper);
    }

    @Test
    void checksumOffloadThroughTheRingCompletesTheTcpChecksum() throws Exception {
        setUpTransmit();
        byte[] packet = Packets.tcp(Packets.payload(500, 2), false);
        putContext(0, Packets.checksumContext(34, 16));
        putDescriptor(txRing, 1, ram.put(packet), Transmitter.CMD_DEXT | 1 << 20 | Transmitter.CMD_EOP | packet.length,
                Offload.POPTS_TXSM << 8);
        write(Reg.TDT, 2);
        assertTrue(Packets.checksumsValid(receiveFromWire(), 6, Packets.TCP));
    }

    @Test
    void vlanInsertionTagsTheFrameWhenCtrlVmeIsOn() throws Exception {
        setUpTransmit();
        write(Reg.CTRL, read(Reg.CTRL) | Reg.CTRL_VME);
        byte[] frame = frame(new byte[] {2, 0, 0, 0, 0, 9}, 100, 5);
        putDescriptor(txRing, 0, ram.put(frame), legacy(frame.length, Transmitter.CMD_EOP | Transmitter.CMD_VLE), 0x0123 << 16);
        write(Reg.TDT, 1);
        byte[] sent = receiveFromWire();
        assertEquals(104, sent.length);
        assertEquals(0x8100, NetworkBytes.u16(sent, 12));
        assertEquals(0x0123, NetworkBytes.u16(sent, 14));
        assertArrayEquals(Packets.slice(frame, 12, 100), Packets.slice(sent, 16, 104));
    }

    @Test
    void nothingMovesWhileBusMasteringIsOff() throws Exception {
        setUpTransmit();
        card.config().write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        byte[] frame = frame(new byte[] {2, 0, 0, 0, 0, 9}, 64, 1);
        putDescriptor(txRing, 0, ram.put(frame), legacy(frame.length, Transmitter.CMD_EOP), 0);
        write(Reg.TDT, 1);
        assertTrue(wireIsQuiet());
        assertEquals(0, read(Reg.TDH));
        card.config().write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        write(Reg.TDT, 1);
        assertArrayEquals(frame, receiveFromWire());
    }

    // ---- receive ----

    @Test
    void aFrameForTheCardLandsInTheNextBufferWithFcsAndStatus() throws Exception {
        long[] buffers = setUpReceive(RING - 1, 0);
        write(Reg.IMS, Reg.ICR_RXT0);
        byte[] frame = frame(MAC.bytes(), 100, 9);
        assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame)));
        awaitHead(1);
        ByteBuffer done = descriptor(rxRing, 0);
        assertEquals(frame.length + 4, done.getShort(8), "the length includes the FCS, which Linux strips");
        assertEquals(Receiver.STA_DD | Receiver.STA_EOP | Receiver.STA_IXSM, done.get(12) & 0xff);
        assertArrayEquals(frame, ram.read(buffers[0], frame.length));
        CRC32 crc = new CRC32();
        crc.update(frame);
        assertEquals((int) crc.getValue(), ByteBuffer.wrap(ram.read(buffers[0] + frame.length, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt());
        assertEquals(Reg.ICR_RXT0, read(Reg.ICR) & Reg.ICR_RXT0);
        assertEquals(1, read(Reg.GPRC));
    }

    @Test
    void shortFramesArePaddedToSixtyBytes() throws Exception {
        setUpReceive(RING - 1, Reg.RCTL_SECRC);
        assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame(MAC.bytes(), 20, 1))));
        awaitHead(1);
        assertEquals(60, descriptor(rxRing, 0).getShort(8), "padded, and no FCS with SECRC");
    }

    @Test
    void theFilterTakesItsOwnAddressBroadcastAndMulticastInTheTableOnly() throws Exception {
        setUpReceive(RING - 1, 0);
        byte[] multicast = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
        int hash = ((multicast[5] & 0xff) << 8 | (multicast[4] & 0xff)) >>> 4 & 0xfff;
        send(frame(new byte[] {2, 0, 0, 0, 0, 7}, 60, 1)); // another card's unicast: refused
        send(frame(multicast, 60, 2)); // not in the table yet: refused
        send(frame(new byte[] {-1, -1, -1, -1, -1, -1}, 60, 3)); // broadcast with BAM: taken
        awaitHead(1);
        write(Reg.MTA + 4 * (hash >>> 5), 1 << (hash & 31));
        send(frame(multicast, 60, 4));
        awaitHead(2);
        write(Reg.RCTL, read(Reg.RCTL) | Reg.RCTL_UPE);
        send(frame(new byte[] {2, 0, 0, 0, 0, 7}, 60, 5)); // promiscuous: taken
        awaitHead(3);
        assertEquals(3, card.counters().rxFrames());
    }

    private void send(byte[] frame) throws Exception {
        assertTrue(wire.send(arena.allocateFrom(ValueLayout.JAVA_BYTE, frame)));
    }

    @Test
    void aFrameWaitsForBuffersAndArrivesWhenTheDriverGivesSome() throws Exception {
        setUpReceive(0, 0);
        send(frame(MAC.bytes(), 200, 6));
        Thread.sleep(300);
        assertEquals(0, read(Reg.RDH), "no buffers: the frame waits");
        write(Reg.RDT, 4);
        awaitHead(1);
    }

    @Test
    void vlanTaggedFramesAreStrippedIntoTheDescriptorWhenCtrlVmeIsOn() throws Exception {
        long[] buffers = setUpReceive(RING - 1, Reg.RCTL_SECRC);
        write(Reg.CTRL, read(Reg.CTRL) | Reg.CTRL_VME);
        byte[] frame = frame(MAC.bytes(), 104, 7);
        NetworkBytes.putU16(frame, 12, 0x8100);
        NetworkBytes.putU16(frame, 14, 0x0042);
        send(frame);
        awaitHead(1);
        ByteBuffer done = descriptor(rxRing, 0);
        assertEquals(100, done.getShort(8));
        assertEquals(Receiver.STA_VP, done.get(12) & Receiver.STA_VP);
        assertEquals(0x0042, done.getShort(14));
        assertArrayEquals(Packets.slice(frame, 16, 104), ram.read(buffers[0] + 12, 88));
    }

    private void awaitHead(int head) throws InterruptedException {
        long start = System.nanoTime();
        while (read(Reg.RDH) != head && System.nanoTime() - start < 5_000_000_000L) {
            Thread.sleep(5);
        }
        assertEquals(head, read(Reg.RDH));
    }

    // ---- a lying guest ----

    @Test
    void aTransmitRingOutsideMemoryFaultsOncePerDoorbellAndMovesOn() throws Exception {
        write(Reg.TDBAL, (int) ram.outside());
        write(Reg.TDLEN, RING * 16);
        write(Reg.TCTL, Reg.TCTL_EN);
        write(Reg.TDT, 5);
        assertEquals(1, card.counters().dmaFaults(), "the DMA engine stops at the first refused access");
        assertEquals(1, read(Reg.TDH), "past the faulting descriptor, so the next doorbell goes on");
        write(Reg.TDT, 5);
        assertEquals(2, card.counters().dmaFaults());
        assertEquals(2, read(Reg.TDH));
        assertTrue(wireIsQuiet());
    }

    @Test
    void aBufferOutsideMemoryDropsItsPacketOnly() throws Exception {
        setUpTransmit();
        byte[] good = frame(new byte[] {2, 0, 0, 0, 0, 9}, 80, 2);
        putDescriptor(txRing, 0, ram.outside(), legacy(100, Transmitter.CMD_EOP | Transmitter.CMD_RS), 0);
        putDescriptor(txRing, 1, ram.put(good), legacy(good.length, Transmitter.CMD_EOP), 0);
        write(Reg.TDT, 2);
        assertTrue(wireIsQuiet(), "the run ended at the fault");
        assertEquals(1, read(Reg.TDH));
        write(Reg.TDT, 2); // the driver's next doorbell
        assertArrayEquals(good, receiveFromWire());
        assertEquals(1, card.counters().dmaFaults());
        assertEquals(Transmitter.STA_DD, descriptor(txRing, 0).get(12) & 0xf, "the dropped packet's descriptor is done too");
    }

    @Test
    void headOrTailBeyondTheRingIsRefusedAndCounted() throws Exception {
        setUpTransmit();
        write(Reg.TDT, RING + 3);
        write(Reg.TDH, 0xffff);
        write(Reg.TDT, 1);
        assertTrue(card.counters().ringErrors() >= 2);
        assertTrue(wireIsQuiet());
        write(Reg.RDBAL, (int) rxRing);
        write(Reg.RDLEN, RING * 16);
        write(Reg.RDT, RING + 1);
        write(Reg.RCTL, Reg.RCTL_EN | Reg.RCTL_BAM);
        send(frame(MAC.bytes(), 60, 1));
        long start = System.nanoTime();
        while (card.counters().rxDropped() == 0 && System.nanoTime() - start < 5_000_000_000L) {
            Thread.sleep(5);
        }
        assertEquals(1, card.counters().rxDropped(), "the frame is lost, the card goes on");
    }

    @Test
    void aRingOfZeroLengthDescriptorsWithoutEopEndsAfterOneLap() {
        setUpTransmit();
        for (int i = 0; i < RING; i++) {
            putDescriptor(txRing, i, 0, legacy(0, 0), 0);
        }
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            write(Reg.TDH, 1);
            write(Reg.TDT, 0); // every descriptor but one: a lap of nothing
        });
        assertEquals(0, read(Reg.TDH));
    }

    @Test
    void aPacketLongerThanSixtyFourKibIsDropped() throws Exception {
        setUpTransmit();
        long big = ram.alloc(40000);
        for (int i = 0; i < 3; i++) {
            putDescriptor(txRing, i, big, legacy(40000, i == 2 ? Transmitter.CMD_EOP : 0), 0);
        }
        write(Reg.TDT, 3);
        assertTrue(wireIsQuiet());
        assertEquals(1, card.counters().malformed());
    }

    @Test
    void anAbsurdTsoContextDropsThePacketAndCountsIt() throws Exception {
        setUpTransmit();
        byte[] packet = Packets.tcp(Packets.payload(3000, 1), true);
        putContext(0, new OffloadContext(14, 24, 33, 34, 50, 0, 3000, true, true, true, 54, 0)); // MSS 0
        int dcmd = Transmitter.CMD_DEXT | 1 << 20 | Transmitter.CMD_TSE;
        putDescriptor(txRing, 1, ram.put(packet), dcmd | Transmitter.CMD_EOP | packet.length, 3 << 8);
        putContext(2, new OffloadContext(14, 24, 33, 34, 50, 0, 3000, true, true, true, 255, 1448)); // header longer than the packet
        byte[] small = Packets.tcp(Packets.payload(10, 1), true);
        putDescriptor(txRing, 3, ram.put(small), dcmd | Transmitter.CMD_EOP | small.length, 3 << 8);
        write(Reg.TDT, 4);
        assertTrue(wireIsQuiet());
        assertEquals(2, card.counters().malformed());
        assertEquals(4, read(Reg.TDH));
    }

    @Test
    void aFrameSentToItsOwnAddressGoesToTheWireAndNeverLoopsBack() throws Exception {
        setUpTransmit();
        setUpReceive(RING - 1, Reg.RCTL_UPE);
        write(Reg.RCTL, read(Reg.RCTL) | 3 << 6); // RCTL.LBM: loopback asked for; not emulated
        byte[] frame = frame(MAC.bytes(), 100, 3);
        putDescriptor(txRing, 0, ram.put(frame), legacy(frame.length, Transmitter.CMD_EOP), 0);
        write(Reg.TDT, 1);
        assertArrayEquals(frame, receiveFromWire());
        Thread.sleep(200);
        assertEquals(0, read(Reg.RDH), "nothing came back in");
    }

    @Test
    void aReceiveRingOutsideMemoryDropsTheFrameAndCountsTheFault() throws Exception {
        write(Reg.RDBAL, (int) ram.outside());
        write(Reg.RDLEN, RING * 16);
        write(Reg.RDT, 4);
        write(Reg.RCTL, Reg.RCTL_EN | Reg.RCTL_BAM);
        send(frame(MAC.bytes(), 60, 1));
        long start = System.nanoTime();
        while (card.counters().dmaFaults() == 0 && System.nanoTime() - start < 5_000_000_000L) {
            Thread.sleep(5);
        }
        assertEquals(1, card.counters().dmaFaults());
        send(frame(MAC.bytes(), 60, 2));
        while (card.counters().dmaFaults() == 1 && System.nanoTime() - start < 5_000_000_000L) {
            Thread.sleep(5);
        }
        assertEquals(2, card.counters().dmaFaults(), "the receive thread is still alive");
    }

    // ---- snapshots ----

    @Test
    void aRestoredCardKeepsItsRingsAndGoesOnTransmitting() throws Exception {
        setUpTransmit();
        write(Reg.IMS, Reg.ICR_TXDW);
        byte[] first = frame(new byte[] {2, 0, 0, 0, 0, 9}, 70, 1);
        putDescriptor(txRing, 0, ram.put(first), legacy(first.length, Transmitter.CMD_EOP), 0);
        write(Reg.TDT, 1);
        receiveFromWire();
        card.pause();
        StateWriter saved = StateWriter.root();
        card.saveState(saved);
        card.close();
        wire.close();

        Path vm = dir.resolve("vm2.sock");
        Path peer = dir.resolve("peer2.sock");
        wire = UnixDatagramBackend.open(peer, vm);
        card = new E1000(ram.dma(), UnixDatagramBackend.open(vm, peer), MacAddress.parse("02:00:00:00:00:01"), "restored");
        card.config().write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        card.pause();
        card.restoreState(StateReader.of(saved.tree()));
        card.resume();
        assertEquals(MAC, card.mac(), "the snapshot's MAC");
        assertEquals(1, read(Reg.TDH));
        assertEquals(Reg.ICR_TXDW, read(Reg.IMS));
        byte[] second = frame(new byte[] {2, 0, 0, 0, 0, 9}, 90, 2);
        putDescriptor(txRing, 1, ram.put(second), legacy(second.length, Transmitter.CMD_EOP), 0);
        write(Reg.TDT, 2);
        assertArrayEquals(second, receiveFromWire());
    }

    @Test
    void aPausedCardsReceiveThreadSleepsInsteadOfSpinning() throws Exception {
        Thread receiver = Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.getName().equals("test-e1000-rx")).findFirst().orElseThrow();
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        card.pause();
        Thread.sleep(50); // the thread sees the pause
        long before = threads.getThreadCpuTime(receiver.threadId());
        Thread.sleep(400);
        long used = threads.getThreadCpuTime(receiver.threadId()) - before;
        card.resume();
        assertTrue(used < 50_000_000L, "CPU the paused receive thread used in 400 ms: " + used / 1_000_000 + " ms");
    }

    @Test
    void aSnapshotWithAnOversizedHeldFrameIsRefused() {
        StateWriter saved = StateWriter.root();
        card.saveState(saved);
        saved.tree().put("heldFrame", java.util.Base64.getEncoder().encodeToString(new byte[E1000.MAX_RX_FRAME + 1]));
        assertThrowsSnapshot(saved);
    }

    private void assertThrowsSnapshot(StateWriter saved) {
        org.junit.jupiter.api.Assertions.assertThrows(io.vmguard.snapshot.SnapshotException.class,
                () -> card.restoreState(StateReader.of(saved.tree())));
    }
}
