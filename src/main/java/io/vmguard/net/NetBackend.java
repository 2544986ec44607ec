package io.vmguard.net;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

/**
 * Where a virtual network card's Ethernet frames go on the host, and where the frames for it come from.
 * A backend knows nothing of virtio: it carries whole frames (destination MAC onward, no FCS).
 *
 * <p>Threads: one thread sends (the card's transmit queue) while another receives (a thread per card
 * blocked in {@link #receive}); concurrent sends, or concurrent receives, are serialized. {@link #close}
 * may come from any thread and wakes a blocked receiver at once.
 *
 * <p>Buffers and frames are native segments (guest memory or off-heap); sending and receiving allocate
 * nothing.
 */
public sealed interface NetBackend extends AutoCloseable permits PortBackend {
    /** What {@link #receive} returns once the backend is closed. */
    int CLOSED = -1;

    /** Destination, source and EtherType: anything shorter is not an Ethernet frame and is dropped. */
    int ETHERNET_HEADER = 14;

    /**
     * Hands one frame (all of {@code frame}) to the host. Returns false when the frame was dropped and counted,
     * as a wire loses frames: the peer is absent or its queue is full, a TAP interface is down, the frame is
     * shorter than an Ethernet header, or the backend is closed.
     *
     * @throws NetException when the backend itself has failed (it will not carry frames again)
     */
    boolean send(MemorySegment frame) throws NetException;

    /**
     * Waits up to {@code timeout} for one frame and copies it to the start of {@code buffer}. Returns its
     * length; 0 when the time ran out; {@link #CLOSED} once the backend is closed, also when it is closed
     * during the wait. A frame longer than the buffer is dropped and counted, never truncated; the wait then
     * goes on for the next frame. Only the returned length of the buffer is meaningful: the kernel may have
     * written part of a dropped frame into it.
     *
     * @throws NetException when the backend itself has failed (for example its TAP interface was deleted)
     */
    int receive(MemorySegment buffer, Duration timeout) throws NetException;

    NetCounters counters();

    /** For logs, e.g. {@code socket a.sock -> b.sock} or {@code tap vmgtap0}. */
    String description();

    /** Releases the backend; a blocked {@link #receive} returns {@link #CLOSED} promptly. Idempotent. */
    @Override
    void close();

    /** Opens the backend a spec names. */
    static NetBackend open(NetSpec spec) throws NetException {
        return switch (spec) {
            case NetSpec.Socket socket -> UnixDatagramBackend.open(socket.local(), socket.peer());
            case NetSpec.Tap tap -> TapBackend.open(tap.name());
        };
    }
}
