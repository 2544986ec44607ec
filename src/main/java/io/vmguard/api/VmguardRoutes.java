package io.vmguard.api;

import io.vmguard.events.EventSubscription;
import io.vmguard.events.JsonLinesEventSink;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * vmguard's own requests: {@code GET /events}, the live event stream, and {@code GET /metrics}.
 *
 * <p>The stream carries the {@code --events} file's lines (one JSON object each) from the moment of
 * connection. A reader that falls more than {@link #STREAM_QUEUE} events behind loses events and gets one
 * {@code events-lost} line saying how many; one that stops reading altogether is disconnected by the idle
 * timeout. The VM never waits for a reader. A blank line every {@link #HEARTBEAT} keeps a quiet stream's
 * connection alive and lets the server notice a reader that has gone; readers skip blank lines.
 */
final class VmguardRoutes {
    static final int STREAM_QUEUE = 1024;
    static final Duration HEARTBEAT = Duration.ofSeconds(10);

    private VmguardRoutes() {}

    static void register(Routes routes, ApiContext api) {
        routes.add("GET", "/metrics", (id, body) -> Reply.ok(metrics(api)))
              .addStream("GET", "/events", (id, body) -> {
                  EventSubscription subscription = api.hub().subscribe(STREAM_QUEUE);
                  return new Reply.Stream("application/x-ndjson", out -> relay(subscription, api.instance().id(), out));
              });
    }

    /** The VM's counters and the API's, as {@code GET /metrics} and FlushMetrics give them. */
    static Map<String, Object> metrics(ApiContext api) {
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("vm", api.instance().vmMetrics());
        Map<String, Object> counters = new LinkedHashMap<>(api.counters().toMap());
        counters.put("event_subscribers", api.hub().subscribers());
        metrics.put("api", counters);
        return metrics;
    }

    private static void relay(EventSubscription subscription, String vm, OutputStream out) throws java.io.IOException,
            InterruptedException {
        try (subscription) {
            while (true) {
                String line = switch (subscription.next(HEARTBEAT)) {
                    case EventSubscription.Delivery.Event event -> JsonLinesEventSink.toJson(event.event());
                    case EventSubscription.Delivery.Lost lost -> JsonLinesEventSink.toJson(new SecurityEvent(Instant.now(),
                            vm, Source.VMM, "events-lost", Severity.WARNING, Map.of("lost", lost.count())));
                    case EventSubscription.Delivery.Idle idle -> "";
                    case EventSubscription.Delivery.Closed closed -> null;
                };
                if (line == null) {
                    return;
                }
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        }
    }
}
