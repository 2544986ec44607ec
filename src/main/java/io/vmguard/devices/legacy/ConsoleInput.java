package io.vmguard.devices.legacy;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Pumps a host stream (usually {@code System.in}) into a UART's receiver on a daemon thread, until end of
 * stream, a read error, or {@link #close()}. The UART's back-pressure stops the pump, and so the reading,
 * while the guest is not draining its input.
 *
 * <p>Raw terminal mode, so that keys reach the guest one by one and unechoed, is the CLI's business.
 */
public final class ConsoleInput implements AutoCloseable {
    private static final int CHUNK = 256;

    private final Thread pump;
    private volatile IOException failure;

    private ConsoleInput(InputStream source, Serial8250 uart) {
        this.pump = Thread.ofPlatform()
                .name("vmguard-console-input")
                .daemon() // a pump blocked reading the terminal must not keep the VMM alive
                .unstarted(() -> pump(source, uart));
    }

    /** Starts pumping {@code source} into {@code uart}. The stream is not closed at the end. */
    public static ConsoleInput start(InputStream source, Serial8250 uart) {
        ConsoleInput input = new ConsoleInput(Objects.requireNonNull(source), Objects.requireNonNull(uart));
        input.pump.start();
        return input;
    }

    private void pump(InputStream source, Serial8250 uart) {
        byte[] chunk = new byte[CHUNK];
        try {
            for (int count = source.read(chunk); count >= 0; count = source.read(chunk)) {
                uart.enqueueInput(chunk, 0, count);
            }
        } catch (IOException e) {
            failure = e;
        } catch (InterruptedException e) {
            // closed while waiting for the guest to drain its input
        }
    }

    public boolean isRunning() {
        return pump.isAlive();
    }

    /** Waits up to {@code timeout} for the pump to end; returns whether it has. */
    public boolean awaitEnd(Duration timeout) throws InterruptedException {
        return pump.join(timeout);
    }

    /** The read error that ended the pump, if one did. */
    public Optional<IOException> failure() {
        return Optional.ofNullable(failure);
    }

    /**
     * Stops the pump if it is waiting on the UART. A pump blocked reading the source (a terminal
     * nobody types at) cannot be woken by Java; it is a daemon thread, so it ends with the JVM.
     */
    @Override
    public void close() {
        pump.interrupt();
    }
}
