package io.vmguard.api;

import io.vmguard.api.model.MetricsConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@code PUT /metrics} and {@code FlushMetrics}: one JSON line per flush appended to the configured file
 * (or named pipe), as Firecracker writes its metrics. Configured once, as in Firecracker.
 */
final class MetricsOutput implements AutoCloseable {
    private MetricsConfig config;
    private OutputStream out;

    synchronized void configure(MetricsConfig metrics) throws ApiError {
        if (config != null) {
            throw ApiError.badRequest("Reinitialization of metrics not allowed.");
        }
        try {
            out = Files.newOutputStream(Path.of(metrics.metricsPath()), StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException | IllegalArgumentException e) {
            throw ApiError.badRequest("Cannot open the metrics file " + metrics.metricsPath() + ": " + e.getMessage());
        }
        config = metrics;
    }

    /** Appends one line: time, the id and properties if asked for, then {@code metrics}. */
    synchronized void flush(String id, Supplier<Map<String, Object>> metrics) throws ApiError {
        if (config == null) {
            throw ApiError.badRequest("The metrics system is not initialized (PUT /metrics first).");
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("utc_timestamp_ms", System.currentTimeMillis());
        if (config.emitId()) {
            line.put("id", id);
        }
        if (!config.properties().isEmpty()) {
            line.put("properties", config.properties());
        }
        line.putAll(metrics.get());
        try {
            out.write(Json.write(line));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw ApiError.badRequest("Cannot write metrics to " + config.metricsPath() + ": " + e.getMessage());
        }
    }

    @Override
    public synchronized void close() {
        if (out != null) {
            try {
                out.close();
            } catch (IOException ignored) {
                // the last line was flushed when it was written
            }
        }
    }
}
