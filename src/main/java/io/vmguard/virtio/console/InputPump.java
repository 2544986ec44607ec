package io.vmguard.virtio.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Duration;

/**
 * Reads a host stream (a terminal, a pipe, a socket's stream) on a daemon thread and hands each chunk to
 * the console's receiver, which holds it until the guest has taken it all: while the guest provides no
 * buffers, nothing more is read, so the host side sees back-pressure instead of lost keystrokes.
 */
final class InputPump {
    private final Thread thread;

    private InputPump(InputStream input, ConsoleReceiver receiver) {
        this.thread = Thread.ofPlatform()
                .name("vmguard-virtio-console-input")
                .daemon() // a read blocked on a terminal nobody types at must not keep the VMM alive
                .unstarted(() -> pump(input, receiver));
    }

    static InputPump start(InputStream input, ConsoleReceiver receiver) {
        InputPump pump = new InputPump(input, receiver);
        pump.thread.start();
        return pump;
    }

    private static void pump(InputStream input, ConsoleReceiver receiver) {
        byte[] chunk = new byte[ConsoleReceiver.CHUNK_BYTES];
        try {
            for (int count = input.read(chunk); count >= 0; count = input.read(chunk)) {
                if (count > 0 && !receiver.deliver(chunk, count)) {
                    return;
                }
            }
        } catch (InterruptedException | InterruptedIOException e) {
            // closed
        } catch (IOException e) {
            System.err.println("vmguard: virtio-console input: " + e.getMessage());
        }
    }

    boolean isRunning() {
        return thread.isAlive();
    }

    /** Waits up to {@code timeout} for the pump to end; returns whether it has. */
    boolean awaitEnd(Duration timeout) throws InterruptedException {
        return thread.join(timeout);
    }

    /**
     * Stops the pump when it waits for the guest or blocks in an interruptible read. A read blocked on a
     * file descriptor (System.in) cannot be woken from Java; the thread is a daemon, and the stream's
     * owner may close it.
     */
    void close() {
        thread.interrupt();
    }
}
