package io.vmguard.net;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.StampedLock;

/**
 * What both backends share: a descriptor that carries one frame per read or write, the wait for a frame,
 * the counters, and closing.
 *
 * <p>The receive wait polls the descriptor together with an eventfd that {@link #close} signals, because
 * closing a descriptor does not wake a thread blocked in poll(2) on it. Close then waits for the calls in
 * flight before it closes anything: a descriptor closed under a thread still using it could by then be the
 * number of some unrelated file opened since. Sends and receives share that gate as readers (they run side
 * by side); close is its one writer.
 */
final class FramePort {
    /** How a backend moves one frame through its descriptor; called only by the port, one call at a time per direction. */
    interface FrameIo {
        /**
         * Reads one frame into {@code buffer} without blocking; returns the frame's full length, which
         * exceeds the buffer's size when it did not fit (the frame is consumed all the same), or -errno.
         */
        long read(int fd, MemorySegment buffer, Libc.CallState state);

        /**
         * Writes all of {@code frame}, waiting at most a bound of the backend's own (a full peer queue); returns
         * the bytes written or -errno.
         */
        long write(int fd, MemorySegment frame, Libc.CallState state);

        /** Whether a failed write lost only this frame, as a wire does (peer absent or busy, link down). */
        boolean isDrop(int errno);

        /** The one-line message for a failure of {@code operation} that ends the backend. */
        String failure(String operation, int errno);

        /** Releases what the backend holds beyond the descriptor (e.g. its socket file), after the descriptor is closed. */
        void release();
    }

    private final String description;
    private final int fd;
    private final int wakeFd;
    private final Arena arena;
    private final FrameIo io;
    private final MemorySegment pollSet;
    private final Libc.CallState rxState;
    private final Libc.CallState txState;
    private final Object rxLock = new Object();
    private final Object txLock = new Object();
    private final TrafficCounters counters;
    private final StampedLock gate = new StampedLock();
    private final AtomicBoolean closed = new AtomicBoolean();

    private FramePort(String description, int fd, int wakeFd, Arena arena, FrameIo io, TrafficCounters counters) {
        this.description = description;
        this.counters = counters;
        this.fd = fd;
        this.wakeFd = wakeFd;
        this.arena = arena;
        this.io = io;
        this.pollSet = PollfdLayout.allocate(arena, Libc.POLLIN, fd, wakeFd);
        this.rxState = new Libc.CallState(arena);
        this.txState = new Libc.CallState(arena);
    }

    /**
     * A port over {@code fd}, whose reads through {@code io} must not block. On success the port owns {@code fd},
     * {@code arena} (shared: the sending, receiving and closing threads all use it) and {@code io}; on failure the
     * caller still does. The port counts its frames in {@code counters}, which {@code io} may share (to count its
     * waits).
     */
    static FramePort open(String description, int fd, Arena arena, FrameIo io, TrafficCounters counters) throws NetException {
        int wakeFd;
        try {
            wakeFd = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        } catch (NativeException e) {
            throw new NetException(description + ": " + e.getMessage());
        }
        return new FramePort(description, fd, wakeFd, arena, io, counters);
    }

    boolean send(MemorySegment frame) throws NetException {
        long stamp = enter();
        if (stamp == 0) {
            counters.sendDropped();
            return false;
        }
        try {
            synchronized (txLock) {
                long size = frame.byteSize();
                if (size < NetBackend.ETHERNET_HEADER) {
                    counters.sendDropped();
                    return false;
                }
                while (true) {
                    long sent = io.write(fd, frame, txState);
                    if (sent == size) {
                        counters.sent(size);
                        return true;
                    }
                    if (sent >= 0) {
                        throw new NetException(description + ": sent " + sent + " bytes of a " + size + "-byte frame");
                    }
                    int errno = (int) -sent;
                    if (errno == Libc.EINTR) {
                        continue;
                    }
                    if (io.isDrop(errno)) {
                        counters.sendDropped();
                        return false;
                    }
                    throw new NetException(io.failure("send", errno));
                }
            }
        } finally {
            gate.unlockRead(stamp);
        }
    }

    int receive(MemorySegment buffer, Duration timeout) throws NetException {
        long timeoutNanos = nanos(timeout);
        long start = System.nanoTime();
        long stamp = enter();
        if (stamp == 0) {
            return NetBackend.CLOSED;
        }
        try {
            synchronized (rxLock) {
                // Read first and poll only when nothing is queued: under load a frame is usually waiting.
                while (!closed.get()) {
                    long length = io.read(fd, buffer, rxState);
                    if (length >= NetBackend.ETHERNET_HEADER && length <= buffer.byteSize()) {
                        counters.received(length);
                        return (int) length;
                    }
                    if (length >= 0) {
                        counters.receiveDropped();
                        if (System.nanoTime() - start >= timeoutNanos) {
                            return 0;
                        }
                        continue;
                    }
                    int errno = (int) -length;
                    if (errno == Libc.EINTR) {
                        continue;
                    }
                    if (errno != Libc.EAGAIN) {
                        throw new NetException(io.failure("receive", errno));
                    }
                    long remaining = timeoutNanos - (System.nanoTime() - start);
                    if (remaining <= 0) {
                        return 0;
                    }
                    int ready = Libc.poll(pollSet, 2, millis(remaining), rxState);
                    if (ready < 0 && ready != -Libc.EINTR) {
                        throw new NetException(description + ": poll: " + Libc.strerror(-ready));
                    }
                    if (ready > 0 && (PollfdLayout.revents(pollSet, 0) & Libc.POLLNVAL) != 0) {
                        throw new NetException(description + ": its descriptor is no longer open");
                    }
                }
                return NetBackend.CLOSED;
            }
        } finally {
            gate.unlockRead(stamp);
        }
    }

    NetCounters counters() {
        return counters.snapshot();
    }

    void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        wakeReceiver();
        long stamp = gate.writeLock();
        try {
            Libc.close(fd);
            Libc.close(wakeFd);
            arena.close();
            io.release();
        } finally {
            gate.unlockWrite(stamp);
        }
    }

    /** Enters the gate as a reader; returns its stamp, or 0 once closing has begun. */
    private long enter() {
        if (closed.get()) {
            return 0;
        }
        long stamp = gate.readLock();
        if (closed.get()) {
            gate.unlockRead(stamp);
            return 0;
        }
        return stamp;
    }

    /** Makes the eventfd readable for good, so a receiver in poll returns now and any later poll at once. */
    private void wakeReceiver() {
        try (Arena scratch = Arena.ofConfined()) {
            long result = Libc.write(wakeFd, scratch.allocateFrom(JAVA_LONG, 1L), new Libc.CallState(scratch));
            // Only a counter at its maximum could refuse this, and ours only ever holds 1.
            assert result == Long.BYTES : "eventfd write: " + Libc.strerror((int) -result);
        }
    }

    private static long nanos(Duration timeout) {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative receive timeout " + timeout);
        }
        try {
            return timeout.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Milliseconds for poll, rounded up so a wait never ends before its deadline. */
    private static int millis(long nanos) {
        return (int) Math.min(Integer.MAX_VALUE, nanos / 1_000_000 + (nanos % 1_000_000 == 0 ? 0 : 1));
    }
}
