package io.vmguard.devices.e1000;

import io.vmguard.net.InternetChecksum;
import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.events.GuestLog;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The transmit ring (8254x manual 3.3): walks descriptors from TDH toward TDT, gathers each packet's
 * buffers until EOP, hands it to {@link Offload} (checksums, TSO) and to the wire, and writes DD back into
 * every descriptor with RS. Three descriptor kinds: legacy (DEXT = 0, checksum by CSO/CSS with CMD.IC),
 * context (DEXT = 1, DTYP = 0: offsets for checksums and TSO, kept per kind as QEMU does, since a TSO and
 * a plain checksum context can alternate) and data (DEXT = 1, DTYP = 1, options in POPTS).
 *
 * <p>Bounds, for a guest that lies: one run visits at most one ring's worth of descriptors (CVE-2021-20257
 * was QEMU looping on descriptors that never end a packet); a packet's buffers are gathered up to
 * {@link #MAX_PACKET} bytes, beyond which the packet is dropped at EOP; a descriptor or buffer the DMA door
 * refuses drops that packet and ends the run after that descriptor (TDH moves past it, so the next doorbell
 * goes on), as a NIC's DMA engine stops at a master abort: one fault per doorbell at most, however much of
 * the ring lies. Transmitting never
 * receives: frames go to the backend and nowhere else, so no loopback re-enters the device (CVE-2021-3416).
 *
 * <p>One thread at a time (the device serialises runs); a packet may span runs, as TDT may be written
 * mid-packet.
 */
final class Transmitter implements AutoCloseable {
    /** 64 KiB of TSO payload and a header of up to 255 bytes. */
    static final int MAX_PACKET = 0x10000 + 0x100;
    private static final int VLAN_TAG = 4;
    private static final int MIN_FRAME = 14;

    static final int CMD_EOP = 1 << 24, CMD_IFCS = 1 << 25, CMD_IC = 1 << 26, CMD_TSE = 1 << 26, CMD_RS = 1 << 27,
            CMD_RPS = 1 << 28, CMD_DEXT = 1 << 29, CMD_VLE = 1 << 30;
    static final int DTYP_CONTEXT = 0, DTYP_DATA = 1;
    static final int STA_DD = 1;

    /** A ring as the registers describe it at the doorbell. */
    record Ring(long base, int size, int head, int tail) {}

    /** Where a run stopped, and whether it wrote back any descriptor (for TXDW). */
    record Outcome(int head, boolean wroteBack) {}

    private final Arena arena = Arena.ofShared();
    private final MemorySegment packet = arena.allocate(MAX_PACKET);
    private final MemorySegment segment = arena.allocate(MAX_PACKET + VLAN_TAG);
    private final MemorySegment tagged = arena.allocate(MAX_PACKET + VLAN_TAG);
    private final MemorySegment descriptor = arena.allocate(Reg.DESCRIPTOR_BYTES);
    private final Stats stats;

    private OffloadContext checksumContext = OffloadContext.NONE;
    private OffloadContext tsoContext = OffloadContext.NONE;
    /** The packet being gathered: its length, whether it is lost, and its first descriptor's kind and options. */
    private int length;
    private boolean started;
    private boolean broken;
    private boolean extended;
    private boolean tse;
    private int popts;
    /** A DMA access of this run was refused: the run ends after the current descriptor. */
    private boolean aborted;

    Transmitter(Stats stats) {
        this.stats = stats;
    }

    /**
     * Processes descriptors from {@code ring.head()} up to {@code ring.tail()}, at most one ring's worth.
     * {@code vlanTagging} is CTRL.VME (with VET the tag's EtherType); finished frames go to {@code wire}.
     */
    Outcome run(DmaSpace dma, Ring ring, boolean vlanTagging, int vet, Offload.FrameSink wire) {
        int head = ring.head();
        boolean wroteBack = false;
        aborted = false;
        for (int visited = 0; head != ring.tail() && visited < ring.size() && !aborted; visited++) {
            long address = ring.base() + (long) head * Reg.DESCRIPTOR_BYTES;
            head = head + 1 == ring.size() ? 0 : head + 1;
            long low;
            long high;
            try {
                dma.read(address, descriptor);
                low = descriptor.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                high = descriptor.get(ValueLayout.JAVA_LONG_UNALIGNED, 8);
            } catch (DmaFault fault) {
                fault("descriptor", fault);
                drop();
                continue;
            }
            int lower = (int) high;
            handle(dma, low, lower, (int) (high >>> 32), vlanTagging, vet, wire);
            if ((lower & (CMD_RS | CMD_RPS)) != 0) {
                // Status DD; the error bits (EC, LC, TU) stay clear: a virtual wire has no collisions.
                int upper = (int) (high >>> 32) & ~0xf | STA_DD;
                try {
                    dma.writeInt(address + 12, upper);
                    wroteBack = true;
                } catch (DmaFault fault) {
                    fault("descriptor write-back", fault);
                }
            }
        }
        return new Outcome(head, wroteBack);
    }

    private void handle(DmaSpace dma, long address, int lower, int upper, boolean vlanTagging, int vet, Offload.FrameSink wire) {
        boolean dext = (lower & CMD_DEXT) != 0;
        int dtyp = lower >>> 20 & 0xf;
        if (dext && dtyp == DTYP_CONTEXT) {
            OffloadContext context = OffloadContext.decode(address, (long) upper << 32 | Integer.toUnsignedLong(lower));
            if (context.tse()) {
                tsoContext = context;
            } else {
                checksumContext = context;
            }
            return;
        }
        int bytes;
        if (dext && dtyp == DTYP_DATA) {
            bytes = lower & 0xfffff;
        } else if (!dext) {
            bytes = lower & 0xffff;
        } else {
            malformed("transmit descriptor type " + dtyp);
            broken = true;
            bytes = 0;
        }
        if (!started) {
            started = true;
            extended = dext;
            tse = dext && (lower & CMD_TSE) != 0;
            popts = dext ? upper >>> 8 & 0xff : 0;
        }
        gather(dma, address, bytes);
        if ((lower & CMD_EOP) != 0) {
            int vlan = vlanTagging && (lower & CMD_VLE) != 0 ? upper >>> 16 : -1;
            finish(lower, upper, vlan, vet, wire);
        }
    }

    private void gather(DmaSpace dma, long address, int bytes) {
        if (broken || bytes == 0) {
            return;
        }
        if (bytes > MAX_PACKET - length) {
            malformed("a transmit packet longer than " + MAX_PACKET + " bytes");
            broken = true;
            return;
        }
        try {
            dma.read(address, packet.asSlice(length, bytes));
            length += bytes;
        } catch (DmaFault fault) {
            fault("buffer", fault);
            broken = true;
        }
    }

    private void finish(int lower, int upper, int vlan, int vet, Offload.FrameSink wire) {
        try {
            if (broken) {
                return; // counted where it broke
            }
            Offload.FrameSink out = vlan < 0 ? wire : frame -> wire.send(tag(frame, vlan, vet));
            if (extended && tse) {
                int segments = Offload.segment(packet, length, tsoContext, popts, segment, out);
                if (segments < 0) {
                    malformed("a TSO context that does not fit its packet (MSS " + tsoContext.mss() + ", header "
                            + tsoContext.headerLength() + ", packet " + length + ")");
                    return;
                }
                stats.tsoPackets.incrementAndGet();
                stats.tsoSegments.addAndGet(segments);
                return;
            }
            if (length < MIN_FRAME) {
                malformed("a transmit packet of " + length + " bytes");
                return;
            }
            if (extended && popts != 0) {
                if (!Offload.insertChecksums(packet, length, checksumContext, popts)) {
                    malformed("checksum offsets outside the packet");
                    return;
                }
                stats.checksumOffloads.incrementAndGet();
            } else if (!extended && (lower & CMD_IC) != 0) {
                if (!Offload.insertLegacy(packet, length, upper >>> 8 & 0xff, lower >>> 16 & 0xff)) {
                    malformed("legacy checksum offsets outside the packet");
                    return;
                }
                stats.checksumOffloads.incrementAndGet();
            }
            out.send(packet.asSlice(0, length));
        } finally {
            drop();
        }
    }

    /** Inserts an 802.1Q tag after the addresses (CMD.VLE with CTRL.VME). */
    private MemorySegment tag(MemorySegment frame, int vlan, int vet) {
        long size = frame.byteSize();
        MemorySegment.copy(frame, 0, tagged, 0, 12);
        InternetChecksum.putU16(tagged, 12, vet);
        InternetChecksum.putU16(tagged, 14, vlan);
        MemorySegment.copy(frame, 12, tagged, 16, size - 12);
        return tagged.asSlice(0, size + VLAN_TAG);
    }

    /** Forgets the packet being gathered. */
    void drop() {
        length = 0;
        started = false;
        broken = false;
        extended = false;
        tse = false;
        popts = 0;
    }

    /** A device reset: no packet, no contexts. */
    void reset() {
        drop();
        checksumContext = OffloadContext.NONE;
        tsoContext = OffloadContext.NONE;
    }

    private void malformed(String what) {
        stats.malformed.incrementAndGet();
        GuestLog.warn("e1000 malformed transmit", "e1000: dropped " + what);
    }

    private void fault(String what, DmaFault fault) {
        aborted = true;
        stats.dmaFaults.incrementAndGet();
        GuestLog.warn("e1000 dma fault", "e1000: transmit " + what + " refused: " + fault.getMessage());
    }

    // ---- snapshots ----

    int[] state() {
        int[] s = new int[6 + 24];
        s[0] = length;
        s[1] = started ? 1 : 0;
        s[2] = broken ? 1 : 0;
        s[3] = extended ? 1 : 0;
        s[4] = tse ? 1 : 0;
        s[5] = popts;
        System.arraycopy(checksumContext.toInts(), 0, s, 6, 12);
        System.arraycopy(tsoContext.toInts(), 0, s, 18, 12);
        return s;
    }

    byte[] packetBytes() {
        return packet.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }

    void restore(int[] s, byte[] bytes) {
        length = Math.min(bytes.length, MAX_PACKET);
        MemorySegment.copy(bytes, 0, packet, ValueLayout.JAVA_BYTE, 0, length);
        started = s[1] != 0;
        broken = s[2] != 0;
        extended = s[3] != 0;
        tse = s[4] != 0;
        popts = s[5] & 0xff;
        checksumContext = OffloadContext.fromInts(java.util.Arrays.copyOfRange(s, 6, 18));
        tsoContext = OffloadContext.fromInts(java.util.Arrays.copyOfRange(s, 18, 30));
    }

    static final int STATE_INTS = 30;

    @Override
    public void close() {
        arena.close();
    }
}
