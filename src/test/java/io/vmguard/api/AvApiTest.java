package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.runtime.RuntimeAction;
import io.vmguard.events.EventHub;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.testing.TinyKernel;
import io.vmguard.vmm.AntivirusSettings;
import io.vmguard.vmm.IntrospectionSettings;
import io.vmguard.vmm.SerialTarget;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.io.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /av/status} on a VM booted through the API (a spinning tiny kernel): with a database, the runtime
 * scanner reports the code it scanned before it ran, and the start is on the event stream; without one, the
 * request says in one line that the antivirus is off.
 */
class AvApiTest {
    @TempDir
    Path dir;

    private ApiHarness.Answer bootAndAskStatus(AntivirusSettings av, RecordingEventSink recorded) throws Exception {
        EventHub hub = new EventHub(recorded);
        VmEvents events = new VmEvents("av-api", hub);
        Path socket = dir.resolve("api.sock");
        try (Instance instance = Instance.configurable(new Instance.Launch("av-api", "interp", new SerialTarget.Null(),
                     events, IntrospectionSettings.defaults(), av));
             ApiServer server = ApiServer.start(ApiEndpoints.unix(socket), new ApiContext(instance, hub, events))) {
            HttpClient client = new HttpClient();
            client.start();
            try {
                Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
                assertEquals(204, call(client, socket, "PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}").status());
                assertEquals(204, call(client, socket, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}").status());
                // The first scan may still be under way on the vCPU thread (the first one loads the matcher's code).
                ApiHarness.Answer answer = call(client, socket, "GET", "/av/status", null);
                for (int i = 0; i < 200 && answer.status() == 200 && answer.body().contains("\"scans\":0"); i++) {
                    Thread.sleep(50);
                    answer = call(client, socket, "GET", "/av/status", null);
                }
                return answer;
            } finally {
                client.stop();
                hub.close();
            }
        }
    }

    private static ApiHarness.Answer call(HttpClient client, Path socket, String method, String path, String json)
            throws Exception {
        Request request = client.newRequest("http://localhost" + path).method(method)
                .transport(new Transport.TCPUnix(socket)).timeout(20, TimeUnit.SECONDS);
        if (json != null) {
            request.body(new org.eclipse.jetty.client.StringRequestContent("application/json", json));
        }
        var response = request.send();
        return new ApiHarness.Answer(response.getStatus(), response.getContentAsString());
    }

    @Test
    void withADatabaseTheStatusShowsCodeScannedBeforeItRan() throws Exception {
        Path db = Files.createDirectories(dir.resolve("db"));
        Files.writeString(db.resolve("test.ndb"), "VMG.Test.Nothing:0:*:564d47415654535448b94d41\n");
        SignatureDatabase database = SignatureDatabase.load(List.of(db), problem -> {});
        RecordingEventSink recorded = new RecordingEventSink();

        ApiHarness.Answer answer = bootAndAskStatus(AntivirusSettings.scanning(database, RuntimeAction.BLOCK), recorded);

        assertEquals(200, answer.status(), answer.body());
        JsonNode status = new ObjectMapper().readTree(answer.body());
        assertEquals("before-execution", status.get("mode").asText(), answer.body());
        assertEquals("block", status.get("action").asText());
        assertEquals(1, status.get("signatures").asInt());
        assertTrue(status.get("scanner").get("executions").asLong() >= 1
                && status.get("scanner").get("scans").asLong() >= 1, "the kernel's code was scanned: " + answer.body());
        assertTrue(recorded.events.stream().anyMatch(e -> e.source() == Source.AV && e.kind().equals("scanning-started")),
                recorded.events.toString());
    }

    @Test
    void withoutADatabaseTheStatusSaysTheAntivirusIsOff() throws Exception {
        ApiHarness.Answer answer = bootAndAskStatus(AntivirusSettings.off(), new RecordingEventSink());

        assertEquals(400, answer.status(), answer.body());
        String fault = answer.fault();
        assertTrue(fault.contains("The antivirus is off") && fault.lines().count() == 1, fault);
    }
}
