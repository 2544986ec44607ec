package io.vmguard.testing;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.vmguard.net.NetBackend;
import io.vmguard.net.NetCounters;
import io.vmguard.net.NetException;
import io.vmguard.net.UnixDatagramBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The host side of a VM's network link, for tests and benchmarks: a thread receives every frame from a
 * backend, keeps it for {@link #awaitFrame} and hands it to a {@link Responder}, whose answer goes back.
 * {@link #socket} puts one at the peer path of a VM's socket backend, so a guest can be talked to (and,
 * with a {@link PingResponder}, can ping the host side) without a second VM or root.
 */
public final class FramePeer implements AutoCloseable {
    /** Answers a frame with a frame, or null for none. Called on the peer's receiving thread. */
    @FunctionalInterface
    public interface Responder {
        Responder NONE = frame -> null;
        /** Sends every frame straight back: a loopback plug. */
        Responder ECHO = frame -> frame;

        byte[] respond(byte[] frame);
    }

    /** Frames kept beyond this many, unread, are counted in {@link #overflowed} instead. */
    private static final int KEPT = 100_000;
    private static final int MAX_FRAME = 65536;

    private final NetBackend backend;
    private final Responder responder;
    private final BlockingQueue<byte[]> frames = new LinkedBlockingQueue<>(KEPT);
    private final Arena arena = Arena.ofShared();
    private final MemorySegment receiveBuffer = arena.allocate(MAX_FRAME);
    private final MemorySegment sendBuffer = arena.allocate(MAX_FRAME);
    private final Thread thread;
    private volatile long overflowed;
    private volatile Exception failure;

    private FramePeer(NetBackend backend, Responder responder) {
        this.backend = backend;
        this.responder = responder;
        this.thread = Thread.ofPlatform().daemon().name("frame-peer " + backend.description()).unstarted(this::run);
    }

    /** Runs a peer over an open backend, which it then owns. */
    public static FramePeer start(NetBackend backend, Responder responder) {
        FramePeer peer = new FramePeer(backend, responder);
        peer.thread.start();
        return peer;
    }

    /** A peer bound at {@code own} talking to the VM whose socket backend is bound at {@code vm}. */
    public static FramePeer socket(Path own, Path vm, Responder responder) throws NetException {
        return start(UnixDatagramBackend.open(own, vm), responder);
    }

    /** The next frame received, or null if none arrives within {@code timeout}. */
    public byte[] awaitFrame(Duration timeout) throws InterruptedException {
        return awaitFrame(frame -> true, timeout);
    }

    /** The next received frame that {@code matching} accepts, discarding the others; null on timeout. */
    public byte[] awaitFrame(Predicate<byte[]> matching, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            checkHealthy();
            long remaining = deadline - System.nanoTime();
            byte[] frame = frames.poll(Math.max(0, Math.min(remaining, 100_000_000L)), TimeUnit.NANOSECONDS);
            if (frame != null && matching.test(frame)) {
                return frame;
            }
            if (frame == null && remaining <= 0) {
                return null;
            }
        }
    }

    /** Sends one frame to the VM; false when it was dropped (no VM there, or its queue full). */
    public boolean send(byte[] frame) throws NetException {
        synchronized (sendBuffer) {
            MemorySegment.copy(frame, 0, sendBuffer, JAVA_BYTE, 0, frame.length);
            return backend.send(sendBuffer.asSlice(0, frame.length));
        }
    }

    public NetCounters counters() {
        return backend.counters();
    }

    /** Frames received while {@link #KEPT} were already waiting unread. */
    public long overflowed() {
        return overflowed;
    }

    @Override
    public void close() throws InterruptedException {
        backend.close();
        thread.join();
        arena.close();
        checkHealthy();
    }

    private void run() {
        try {
            while (true) {
                int length = backend.receive(receiveBuffer, Duration.ofMinutes(1));
                if (length == NetBackend.CLOSED) {
                    return;
                }
                if (length == 0) {
                    continue;
                }
                byte[] frame = receiveBuffer.asSlice(0, length).toArray(JAVA_BYTE);
                if (!frames.offer(frame)) {
                    overflowed++;
                }
                byte[] reply = responder.respond(frame);
                if (reply != null) {
                    send(reply);
                }
            }
        } catch (NetException | RuntimeException e) {
            failure = e;
        }
    }

    private void checkHealthy() {
        if (failure != null) {
            throw new IllegalStateException("frame peer on " + backend.description() + " failed: " + failure.getMessage(), failure);
        }
    }
}
