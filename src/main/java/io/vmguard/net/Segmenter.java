package io.vmguard.net;

import java.lang.foreign.MemorySegment;

/**
 * The loop every NIC's segmentation offload shares: one packet of headers and a large payload becomes frames
 * of the same headers and at most {@code mss} bytes of payload each, built one at a time in a scratch buffer.
 * What each device then fixes in a segment's headers (lengths, IDs, sequence numbers, flags, checksums) differs
 * by device and is its {@link HeaderFixer}: e1000 follows its driver's context, virtio-net the frame's own headers.
 */
public final class Segmenter {
    private Segmenter() {}

    /** Fixes one segment's headers, already copied into {@code frame} before its payload. */
    @FunctionalInterface
    public interface HeaderFixer {
        /**
         * @param index the segment's number, from 0
         * @param payloadOffset where its payload starts within the packet's payload
         * @param frameLength the segment's length, headers included
         * @param last whether it is the last segment
         */
        void fix(MemorySegment frame, int index, int payloadOffset, int frameLength, boolean last);
    }

    /** Where finished frames go; {@code E} is what sending can fail with (nothing checked for an in-memory sink). */
    @FunctionalInterface
    public interface FrameSink<E extends Exception> {
        void send(MemorySegment frame) throws E;
    }

    /**
     * Sends {@code packet}'s payload after its first {@code headers} bytes, up to {@code payloadEnd}, as
     * segments of at most {@code mss} payload bytes (one segment when there is no payload), each fixed by
     * {@code fixer} and sent to {@code sink} as a slice of {@code scratch}. The caller has checked that
     * {@code headers + mss} fits {@code scratch} and {@code payloadEnd} the packet; returns the segments sent.
     */
    public static <E extends Exception> int segment(MemorySegment packet, int headers, int payloadEnd, int mss,
                                                    MemorySegment scratch, HeaderFixer fixer, FrameSink<E> sink) throws E {
        int payload = payloadEnd - headers;
        int segments = Math.max(1, (payload + mss - 1) / mss);
        for (int i = 0; i < segments; i++) {
            int offset = i * mss;
            int size = Math.min(mss, payload - offset);
            int frameLength = headers + size;
            MemorySegment.copy(packet, 0, scratch, 0, headers);
            MemorySegment.copy(packet, headers + offset, scratch, headers, size);
            fixer.fix(scratch, i, offset, frameLength, i == segments - 1);
            sink.send(scratch.asSlice(0, frameLength));
        }
        return segments;
    }
}
