package io.vmguard.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonLinesEventSinkTest {
    @Test
    void eachEventIsOneLineInTheSharedSchema() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("reason", "line one\nline \"two\"");
        details.put("count", 3);
        try (JsonLinesEventSink sink = new JsonLinesEventSink(out)) {
            sink.emit(new SecurityEvent(Instant.parse("2026-12-04T14:00:00.123456Z"), "vm0", Source.VMM, "vm-stopped",
                    Severity.WARNING, details));
            sink.emit(new SecurityEvent(Instant.parse("2026-12-04T14:00:01Z"), "vm0", Source.IOMMU, "fault", Severity.ALARM,
                    Map.of()));
        }
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(2, lines.length);
        JsonNode first = new ObjectMapper().readTree(lines[0]);
        assertEquals("2026-12-04T14:00:00.123Z", first.get("time").asText());
        assertEquals("vm0", first.get("vm").asText());
        assertEquals("vmm", first.get("source").asText());
        assertEquals("vm-stopped", first.get("kind").asText());
        assertEquals("warning", first.get("severity").asText());
        assertEquals("line one\nline \"two\"", first.get("details").get("reason").asText());
        assertEquals(3, first.get("details").get("count").asInt());
        assertEquals("iommu", new ObjectMapper().readTree(lines[1]).get("source").asText());
    }
}
