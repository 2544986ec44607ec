package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vmguard.events.EventHub;
import io.vmguard.events.EventSubscription;
import io.vmguard.events.EventSubscription.Delivery;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.testing.TinyKernel;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.io.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The live event stream: what a reader gets, and what a reader that falls behind gets instead. */
class EventStreamTest {
    @TempDir
    Path dir;

    private static SecurityEvent event(String kind) {
        return new SecurityEvent(Instant.now(), "vm", Source.VMM, kind, Severity.INFO, Map.of());
    }

    @Test
    void theStreamDeliversTheLifecycleEventsFromTheMomentOfConnection() throws Exception {
        try (ApiHarness api = new ApiHarness(dir)) {
            Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.powerOff(3));
            api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
            api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");

            InputStreamResponseListener listener = new InputStreamResponseListener();
            api.client.newRequest("http://localhost/events").transport(new Transport.TCPUnix(api.socket)).send(listener);
            Response response = listener.get(5, TimeUnit.SECONDS);
            assertEquals(200, response.getStatus());
            assertEquals("application/x-ndjson", response.getHeaders().get("Content-Type"));

            assertEquals(204, api.put("/actions", "{\"action_type\": \"InstanceStart\"}").status());
            List<JsonNode> seen = new ArrayList<>();
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(listener.getInputStream(), StandardCharsets.UTF_8))) {
                while (seen.stream().noneMatch(node -> node.get("kind").asText().equals("vm-powered-off"))) {
                    String line = lines.readLine();
                    if (line == null) {
                        break;
                    }
                    if (!line.isBlank()) {
                        seen.add(Json.MAPPER.readTree(line));
                    }
                }
            }
            List<String> kinds = seen.stream().map(node -> node.get("kind").asText()).toList();
            assertEquals(List.of("vm-started", "vm-powered-off"), kinds, "api-started came before the connection");
            JsonNode off = seen.getLast();
            assertEquals("test-vm", off.get("vm").asText());
            assertEquals("vmm", off.get("source").asText());
            assertEquals("info", off.get("severity").asText());
            assertEquals(3, off.at("/details/status").asInt());
            assertTrue(off.get("time").asText().endsWith("Z"));
        }
    }

    @Test
    void aReaderThatFallsBehindIsToldHowManyEventsItLostAndThenCatchesUp() throws Exception {
        RecordingEventSink file = new RecordingEventSink();
        try (EventHub hub = new EventHub(file); EventSubscription slow = hub.subscribe(2)) {
            for (int i = 0; i < 5; i++) {
                hub.emit(event("e" + i));
            }
            hub.emit(event("after-gap"));
            assertEquals("e0", assertInstanceOf(Delivery.Event.class, slow.next(Duration.ZERO)).event().kind());
            assertEquals("e1", assertInstanceOf(Delivery.Event.class, slow.next(Duration.ZERO)).event().kind());
            assertEquals(4, assertInstanceOf(Delivery.Lost.class, slow.next(Duration.ZERO)).count());
            hub.emit(event("flowing"));
            assertEquals("flowing", assertInstanceOf(Delivery.Event.class, slow.next(Duration.ZERO)).event().kind());
            assertInstanceOf(Delivery.Idle.class, slow.next(Duration.ofMillis(1)));
            assertEquals(4, slow.lostTotal());
            assertEquals(7, file.events.size(), "the file sink loses nothing");
        }
    }

    @Test
    void emittingNeverWaitsForAReaderThatDoesNotRead() throws Exception {
        try (EventHub hub = new EventHub(io.vmguard.events.EventSink.NONE); EventSubscription stuck = hub.subscribe(8)) {
            long started = System.nanoTime();
            for (int i = 0; i < 100_000; i++) {
                hub.emit(event("flood"));
            }
            assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5));
            assertEquals(100_000 - 8, stuck.lostTotal());
        }
    }

    @Test
    void closingTheHubEndsSubscriptionsAfterWhatTheyHold() throws Exception {
        EventHub hub = new EventHub(io.vmguard.events.EventSink.NONE);
        EventSubscription reader = hub.subscribe(4);
        hub.emit(event("last"));
        hub.close();
        assertEquals("last", assertInstanceOf(Delivery.Event.class, reader.next(Duration.ZERO)).event().kind());
        assertInstanceOf(Delivery.Closed.class, reader.next(Duration.ofSeconds(1)));
        assertEquals(0, hub.subscribers());
    }
}
