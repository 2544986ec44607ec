package io.vmguard.net;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A backend that needs no privilege: one Ethernet frame per AF_UNIX datagram, received on a socket bound at
 * a local path and sent to a peer's path. Two VMs pointed at each other's paths share a wire; so do a VM
 * and any host program that binds the peer path.
 *
 * <p>It behaves like a cable: a frame sent while no one is bound at the peer path is lost and counted,
 * never waited for. The peer's queue holds only {@code net.unix.max_dgram_qlen} datagrams (10 by
 * default); when it is full the sender waits up to 100 ms for room, then drops the frame and counts it. The
 * wait is the kernel's (a blocking send bounded by SO_SNDTIMEO), so the frame goes the moment the peer has
 * read one, not at the next tick of a polling loop. After such a drop the peer counts as stalled: frames that
 * find its queue full wait only {@link #STALLED_PATIENCE} (20 ms, the bound before session 12) until one goes.
 *
 * <p>Who can send to this VM is who may write the local socket file: keep it in a directory only the
 * intended peer can reach.
 */
public final class UnixDatagramBackend extends PortBackend {
    /**
     * How long a frame waits for room in a full peer queue before it is dropped. On a loaded host a peer VM is
     * often off its core for more than 20 ms (the old bound): each such frame was lost and cost TCP a fast
     * retransmit and a halved window (docs/benchmarks.md#session12-net2). A live peer is rarely away for 100 ms;
     * a dead one refuses at once (ECONNREFUSED), so only a stalled peer makes a frame wait this long.
     */
    static final Duration FULL_QUEUE_PATIENCE = Duration.ofMillis(100);
    /**
     * How long a frame waits for a peer that let the last wait run out. Dropping at once then lost whole bursts
     * (up to 164 frames a run on a loaded host); waiting the full patience would hold the transmit queue, and a
     * pause waiting for it, 100 ms a frame (4.5 s for one TSO frame's segments) while the peer is stalled. Also
     * the slice the kernel waits at a time (SO_SNDTIMEO).
     */
    static final Duration STALLED_PATIENCE = Duration.ofMillis(20);

    private final Path local;
    private final Path peer;

    private UnixDatagramBackend(Path local, Path peer, FramePort port) {
        super(port);
        this.local = local;
        this.peer = peer;
    }

    /**
     * Binds {@code local}, replacing a stale socket file a dead VM left there (but nothing else), and sends to
     * {@code peer}, which need not exist yet.
     */
    public static UnixDatagramBackend open(Path local, Path peer) throws NetException {
        return open(local, peer, FULL_QUEUE_PATIENCE);
    }

    /**
     * As {@link #open(Path, Path)}, a frame waiting up to {@code patience} for room (tests on a loaded host), in
     * slices of {@link #STALLED_PATIENCE}.
     */
    static UnixDatagramBackend open(Path local, Path peer, Duration patience) throws NetException {
        String description = description(local, peer);
        Arena arena = Arena.ofShared();
        int fd = -1;
        Object boundFile = null;
        try {
            MemorySegment localAddress = address(arena, local);
            MemorySegment peerAddress = address(arena, peer);
            SocketFile.clearStale(local);
            // A blocking socket, so that a send may wait for room in the kernel (bounded by SO_SNDTIMEO); every
            // other call says MSG_DONTWAIT, so nothing else blocks.
            fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_SNDTIMEO, TimevalLayout.allocate(arena, STALLED_PATIENCE));
            bind(fd, localAddress, local);
            boundFile = SocketFile.identityOfNew(local);
            TrafficCounters counters = new TrafficCounters();
            FramePort port = FramePort.open(description, fd, arena, new DatagramIo(description, peerAddress, local, boundFile,
                    (int) Math.max(1, patience.toNanos() / STALLED_PATIENCE.toNanos()), counters), counters);
            return new UnixDatagramBackend(local, peer, port);
        } catch (NativeException e) {
            release(arena, fd, local, boundFile);
            throw new NetException(description + ": " + e.getMessage());
        } catch (NetException | RuntimeException e) {
            release(arena, fd, local, boundFile);
            throw e;
        }
    }

    public Path localPath() {
        return local;
    }

    public Path peerPath() {
        return peer;
    }

    @Override
    public String description() {
        return description(local, peer);
    }

    private static String description(Path local, Path peer) {
        return "socket " + local + " -> " + peer;
    }

    private static MemorySegment address(Arena arena, Path path) throws NetException {
        try {
            return SockaddrUnLayout.allocate(arena, path);
        } catch (IllegalArgumentException e) {
            throw new NetException(e.getMessage());
        }
    }

    private static void bind(int fd, MemorySegment address, Path local) throws NetException {
        try {
            Libc.bind(fd, address);
        } catch (NativeException e) {
            throw new NetException(switch (e.errno()) {
                case Libc.EADDRINUSE -> local + " is in use by a running program (another VM?)";
                case Libc.ENOENT, Libc.ENOTDIR -> "cannot bind " + local + ": its directory does not exist";
                case Libc.EACCES, Libc.EPERM -> "cannot bind " + local + ": permission denied";
                default -> "cannot bind " + local + ": " + Libc.strerror(e.errno());
            });
        }
    }

    private static void release(Arena arena, int fd, Path local, Object boundFile) {
        if (fd >= 0) {
            Libc.close(fd);
        }
        if (boundFile != null) {
            SocketFile.removeIfOurs(local, boundFile);
        }
        arena.close();
    }

    /**
     * One frame per datagram; MSG_TRUNC makes recv report a datagram's real length, so an oversized one is seen.
     * Writes come one at a time (the port's transmit lock), so {@link #peerStalled} needs no synchronization.
     */
    private static final class DatagramIo implements FramePort.FrameIo {
        private final String description;
        private final MemorySegment peerAddress;
        private final Path local;
        private final Object boundFile;
        private final TrafficCounters counters;
        /** How many slices of {@link #STALLED_PATIENCE} a frame waits for a peer that is not stalled. */
        private final int patienceSlices;
        /** A frame waited out the patience and none has gone since: while so, a frame waits one slice. */
        private boolean peerStalled;

        DatagramIo(String description, MemorySegment peerAddress, Path local, Object boundFile, int patienceSlices,
                   TrafficCounters counters) {
            this.description = description;
            this.peerAddress = peerAddress;
            this.local = local;
            this.boundFile = boundFile;
            this.patienceSlices = patienceSlices;
            this.counters = counters;
        }

        @Override
        public long read(int fd, MemorySegment buffer, Libc.CallState state) {
            return Libc.recv(fd, buffer, Libc.MSG_TRUNC | Libc.MSG_DONTWAIT, state);
        }

        @Override
        public long write(int fd, MemorySegment frame, Libc.CallState state) {
            long sent = Libc.sendto(fd, frame, Libc.MSG_DONTWAIT | Libc.MSG_NOSIGNAL, peerAddress, state);
            // A full peer queue is usually a peer a moment behind, not a dead one: give it up to
            // FULL_QUEUE_PATIENCE to drain before the frame is lost. Dropping at once costs TCP a retransmit
            // per frame and a cut window; waiting without bound would let a stalled peer stall this VM. The
            // kernel wakes the blocking send as soon as the peer reads (and gives up after SO_SNDTIMEO with
            // EAGAIN after one slice). Once a frame has waited in vain, the peer is stalled and the frames
            // after it (the segments of one TSO frame, the rest of the ring) wait one slice each until one goes.
            if (sent != -Libc.EAGAIN) {
                peerStalled &= sent < 0;
                return sent;
            }
            long waitStart = System.nanoTime();
            int slices = peerStalled ? 1 : patienceSlices;
            do {
                sent = Libc.sendto(fd, frame, Libc.MSG_NOSIGNAL, peerAddress, state);
            } while (sent == -Libc.EAGAIN && --slices > 0);
            counters.waitedForRoom(System.nanoTime() - waitStart);
            peerStalled = sent == -Libc.EAGAIN;
            return sent;
        }

        /**
         * Lost on the way: nobody bound at the peer path (ENOENT, ENOTDIR, ECONNREFUSED), the peer talking
         * only to another socket (EPERM), its queue or the host's memory full (EAGAIN, ENOBUFS, ENOMEM), or a
         * frame larger than a datagram may be (EMSGSIZE; the guest chose its size).
         */
        @Override
        public boolean isDrop(int errno) {
            return switch (errno) {
                case Libc.ENOENT, Libc.ENOTDIR, Libc.ECONNREFUSED, Libc.EPERM, Libc.EAGAIN, Libc.ENOBUFS, Libc.ENOMEM,
                     Libc.EMSGSIZE -> true;
                default -> false;
            };
        }

        @Override
        public String failure(String operation, int errno) {
            return description + ": " + operation + ": " + Libc.strerror(errno);
        }

        @Override
        public void release() {
            SocketFile.removeIfOurs(local, boundFile);
        }
    }
}
