package io.vmguard.api;

import io.vmguard.api.model.LoggerConfig;
import io.vmguard.events.GuestLog;
import io.vmguard.events.VmEvents;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/**
 * {@code PUT /logger}: sends vmguard's (rate-limited) log lines to {@code log_path} instead of stderr, or
 * nowhere with level "Off". Configured once, as in Firecracker. A log file that fails stops being written;
 * it never stops the VM.
 */
final class LogOutput implements AutoCloseable {
    private final VmEvents events;
    private LoggerConfig config;
    private OutputStream out;

    LogOutput(VmEvents events) {
        this.events = events;
    }

    synchronized void configure(LoggerConfig logger) throws ApiError {
        if (config != null) {
            throw ApiError.badRequest("Reinitialization of the logger not allowed.");
        }
        Consumer<String> lines = line -> { };
        if (logger.logPath() != null && !logger.off()) {
            try {
                out = Files.newOutputStream(Path.of(logger.logPath()), StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
            } catch (IOException | IllegalArgumentException e) {
                throw ApiError.badRequest("Cannot open the log file " + logger.logPath() + ": " + e.getMessage());
            }
            lines = this::write;
        } else if (!logger.off()) {
            lines = System.err::println;
        }
        config = logger;
        GuestLog.install(new GuestLog(lines, events, System::nanoTime));
    }

    private synchronized void write(String line) {
        if (out == null) {
            return;
        }
        try {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            close();
        }
    }

    @Override
    public synchronized void close() {
        if (out != null) {
            try {
                out.close();
            } catch (IOException ignored) {
                // nothing more will be written
            }
            out = null;
        }
    }
}
