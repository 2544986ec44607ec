package io.vmguard.api;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** The API's own counters, for {@code GET /metrics} and FlushMetrics: requests and their statuses. */
public final class ApiCounters {
    private final LongAdder requests = new LongAdder();
    private final LongAdder timeouts = new LongAdder();
    private final Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();

    void request() {
        requests.increment();
    }

    void status(int status) {
        statuses.computeIfAbsent(status, code -> new LongAdder()).increment();
    }

    void timeout() {
        timeouts.increment();
    }

    public Map<String, Object> toMap() {
        Map<String, Long> byStatus = new TreeMap<>();
        statuses.forEach((status, count) -> byStatus.put(String.valueOf(status), count.sum()));
        return Map.of("requests", requests.sum(), "timeouts", timeouts.sum(), "responses", byStatus);
    }
}
