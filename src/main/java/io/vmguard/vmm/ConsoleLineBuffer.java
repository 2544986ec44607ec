package io.vmguard.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The UART console's output, handed to the host a line at a time. Linux's 8250 console driver transmits one byte
 * per port write; passed on one by one, each byte cost the vCPU thread a system call (12,662 write calls in a boot to
 * {@code hello}, 3 to 9 microseconds each on the development host: docs/benchmarks.md#session15-serial).
 *
 * <p>A line goes out when it ends, when the buffer is full, on {@link #flush()}, or at most {@link #DELAY_MILLIS}
 * after its first byte when it has no end yet (a shell prompt, echoed keys), so an interactive console still feels
 * live. What a kill -9 of vmguard can lose is that one unfinished line, never more than {@link #DELAY_MILLIS} old.
 * A write failure of the delayed delivery is reported by the next write or flush, as the sink's own would be.
 */
final class ConsoleLineBuffer extends OutputStream {
    /** The longest an unfinished line waits. Well under what a person at a terminal notices. */
    static final long DELAY_MILLIS = 10;
    private static final int CAPACITY = 4096;

    private final OutputStream host;
    private final byte[] pending = new byte[CAPACITY];
    private int length;
    private boolean deliveryScheduled;
    private boolean closed;
    private IOException delayedFailure;

    ConsoleLineBuffer(OutputStream host) {
        this.host = Objects.requireNonNull(host, "host");
    }

    @Override
    public synchronized void write(int b) throws IOException {
        reportDelayedFailure();
        pending[length++] = (byte) b;
        if (b == '\n' || length == CAPACITY) {
            deliver();
        } else if (!deliveryScheduled) {
            deliveryScheduled = true;
            Timer.INSTANCE.schedule(this::deliverLate, DELAY_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        reportDelayedFailure();
        deliver();
    }

    /** Delivers what is pending and closes the host stream. */
    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            try {
                flush();
            } finally {
                closed = true;
                host.close();
            }
        }
    }

    private void deliver() throws IOException {
        if (length > 0) {
            int count = length;
            length = 0;
            host.write(pending, 0, count);
        }
        host.flush();
    }

    private synchronized void deliverLate() {
        deliveryScheduled = false;
        if (closed || delayedFailure != null) {
            return;
        }
        try {
            deliver();
        } catch (IOException e) {
            delayedFailure = e;
        }
    }

    private void reportDelayedFailure() throws IOException {
        if (delayedFailure != null) {
            IOException failure = delayedFailure;
            delayedFailure = null;
            throw failure;
        }
    }

    /** One daemon thread for every console of the process, started by the first unfinished line. */
    private static final class Timer {
        static final ScheduledExecutorService INSTANCE = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("console-line-buffer").daemon().factory());
    }
}
