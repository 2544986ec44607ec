package io.vmguard.devices.e1000;

import io.vmguard.net.InternetChecksum;
import io.vmguard.net.Segmenter;
import java.lang.foreign.MemorySegment;

/**
 * What the 82540EM does to a packet the driver handed over whole: checksum insertion (8254x manual 3.3.5,
 * 3.3.6) and TCP segmentation (3.5). Linux turns both on by default and relies on them: with checksum
 * offload the TCP/UDP checksum field holds only the pseudo-header sum; with TSO the packet carries one
 * header and up to 64 KiB of payload, IPv4 total length and header checksum are 0, and the TCP checksum
 * field holds the pseudo-header sum without the length.
 *
 * <p>Segmentation copies the header before each MSS-sized piece of payload and fixes it per segment: IPv4
 * total length, identification (+1 per segment) and header checksum, or IPv6 payload length; TCP sequence
 * number (+MSS per segment) with FIN and PSH only on the last segment, or UDP length; then the TCP/UDP
 * checksum over the segment, with the segment's length added to the pseudo-header sum (as the manual says
 * the hardware does, and QEMU's {@code xmit_seg}).
 *
 * <p>Every offset comes from the guest, so each is checked against the header or the frame first; a context
 * that does not fit (MSS below {@link #MIN_MSS}, a header longer than the packet, checksum fields outside
 * it) makes the packet malformed: it is dropped and counted, never sent half-fixed.
 */
final class Offload {
    /** The smallest MSS segmented: less is a lying context, and would turn 64 KiB into 64 Ki frames. */
    static final int MIN_MSS = 64;
    static final int POPTS_IXSM = 1, POPTS_TXSM = 2;
    private static final int IPV4_HEADER = 20, IPV6_HEADER = 40, TCP_HEADER = 20, UDP_HEADER = 8;
    private static final int TCP_FIN = 0x01, TCP_PSH = 0x08;

    /** Where finished frames go. */
    @FunctionalInterface
    interface FrameSink {
        void send(MemorySegment frame);
    }

    private Offload() {}

    /**
     * Inserts the checksums {@code popts} asks for into a frame of {@code length} bytes, with the offsets of
     * {@code context}. Returns false (and changes nothing more) when an offset lies outside the frame.
     */
    static boolean insertChecksums(MemorySegment frame, int length, OffloadContext context, int popts) {
        if ((popts & POPTS_IXSM) != 0 && !insert(frame, length, context.ipcss(), context.ipcso(), context.ipcse())) {
            return false;
        }
        return (popts & POPTS_TXSM) == 0 || insert(frame, length, context.tucss(), context.tucso(), context.tucse());
    }

    /**
     * Legacy descriptors' checksum (CMD.IC): the sum from {@code css} to the end of the frame, stored at
     * {@code cso}. False when either lies outside the frame.
     */
    static boolean insertLegacy(MemorySegment frame, int length, int css, int cso) {
        return insert(frame, length, css, cso, 0);
    }

    /** Sums [start, end] (end 0: to the frame's end) as the field holds it now, and stores the complement at {@code at}. */
    private static boolean insert(MemorySegment frame, int length, int start, int at, int end) {
        int last = end == 0 ? length - 1 : end;
        if (start >= length || last >= length || last < start || at + 2 > length) {
            return false;
        }
        int sum = InternetChecksum.sum(frame, start, last - start + 1, 0);
        InternetChecksum.putU16(frame, at, ~sum & 0xffff);
        return true;
    }

    /**
     * Segments a TSO packet of {@code length} bytes into frames sent to {@code sink}, built in {@code scratch}
     * (at least header + MSS bytes). Returns the number of segments, or -1 when the context does not fit the
     * packet (nothing was sent).
     */
    static int segment(MemorySegment packet, int length, OffloadContext context, int popts, MemorySegment scratch,
                       FrameSink sink) {
        int header = context.headerLength();
        int mss = context.mss();
        if (!fits(context, length) || header + mss > scratch.byteSize()) {
            return -1;
        }
        int ipcss = context.ipcss();
        int tucss = context.tucss();
        int firstId = InternetChecksum.u16(packet, ipcss + 4);
        int firstSequence = context.tcp() ? InternetChecksum.u32(packet, tucss + 4) : 0;
        int flags = context.tcp() ? InternetChecksum.u16(packet, tucss + 12) : 0;
        int pseudoSum = InternetChecksum.u16(packet, context.tucso());
        return Segmenter.segment(packet, header, length, mss, scratch, (segment, i, offset, frameLength, last) -> {
            if (context.ipv4()) {
                InternetChecksum.putU16(segment, ipcss + 2, frameLength - ipcss);
                InternetChecksum.putU16(segment, ipcss + 4, firstId + i);
            } else {
                InternetChecksum.putU16(segment, ipcss + 4, frameLength - ipcss - IPV6_HEADER);
            }
            if (context.tcp()) {
                InternetChecksum.putU32(segment, tucss + 4, firstSequence + offset);
                InternetChecksum.putU16(segment, tucss + 12, last ? flags : flags & ~(TCP_FIN | TCP_PSH));
            } else {
                InternetChecksum.putU16(segment, tucss + 4, frameLength - tucss);
            }
            if ((popts & POPTS_IXSM) != 0 && context.ipv4()) {
                InternetChecksum.putU16(segment, context.ipcso(), 0);
                insert(segment, frameLength, ipcss, context.ipcso(), context.ipcse());
            }
            if ((popts & POPTS_TXSM) != 0) {
                // The driver's pseudo-header sum lacks the length, which differs per segment.
                InternetChecksum.putU16(segment, context.tucso(), InternetChecksum.fold((long) pseudoSum + frameLength - tucss));
                insert(segment, frameLength, tucss, context.tucso(), 0);
            }
        }, sink::send);
    }

    /** Whether a segmentation context's offsets and sizes fit a packet of {@code length} bytes. */
    static boolean fits(OffloadContext c, int length) {
        int header = c.headerLength();
        if (c.mss() < MIN_MSS || header == 0 || header > length) {
            return false;
        }
        int l3End = c.ipcss() + (c.ipv4() ? IPV4_HEADER : IPV6_HEADER);
        int l4End = c.tucss() + (c.tcp() ? TCP_HEADER : UDP_HEADER);
        boolean ipChecksum = !c.ipv4()
                || (c.ipcso() + 2 <= header && (c.ipcse() == 0 || (c.ipcse() < header && c.ipcse() >= c.ipcss())));
        return l3End <= header && l4End <= header && c.tucss() >= l3End && c.tucso() + 2 <= header && ipChecksum;
    }
}
