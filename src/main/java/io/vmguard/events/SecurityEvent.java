package io.vmguard.events;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * One security event, in the schema every source shares (DEVELOPERS.md): when, which VM, which part of
 * vmguard, what kind, how severe, and details particular to the kind.
 *
 * @param details values are strings, numbers or booleans; kept in insertion order
 */
public record SecurityEvent(Instant time, String vm, Source source, String kind, Severity severity,
                            Map<String, Object> details) {
    public SecurityEvent {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(vm, "vm");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(severity, "severity");
        details = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(details));
    }
}
