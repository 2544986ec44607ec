package io.vmguard.api.model;

import java.util.Map;

/**
 * {@code PUT /metrics}: {@code FlushMetrics} appends one JSON line to {@code metrics_path}; with
 * {@code emit_id} it carries the instance id, and {@code properties} are copied into every line.
 */
public record MetricsConfig(String metricsPath, Boolean emitId, Map<String, String> properties) {
    public MetricsConfig {
        Fields.required(metricsPath, "metrics_path");
        emitId = emitId != null && emitId;
        properties = properties == null ? Map.of() : Map.copyOf(properties);
    }
}
