package io.vmguard.api;

import io.vmguard.events.EventHub;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.vmm.SerialTarget;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.io.Transport;

/**
 * An API server on a real Unix socket in a test's directory, serving a configurable instance on the
 * interpreter, and a Jetty client speaking to it over that socket.
 */
final class ApiHarness implements AutoCloseable {
    final RecordingEventSink recorded = new RecordingEventSink();
    final EventHub hub = new EventHub(recorded);
    final VmEvents events = new VmEvents("test-vm", hub);
    final Instance instance;
    final ApiServer server;
    final Path socket;
    final HttpClient client = new HttpClient();

    ApiHarness(Path dir) throws Exception {
        this(dir, dir.resolve("api.sock"));
    }

    ApiHarness(Path dir, Path socket) throws Exception {
        this(socket, ApiServer.Limits.DEFAULT);
    }

    ApiHarness(Path socket, ApiServer.Limits limits) throws Exception {
        this(socket, limits, io.vmguard.vmm.GuestProtection.NONE);
    }

    /** An instance whose VM has {@code protection} (a TPM, secret memory, sealed snapshots). */
    ApiHarness(Path dir, io.vmguard.vmm.GuestProtection protection) throws Exception {
        this(dir.resolve("api.sock"), ApiServer.Limits.DEFAULT, protection);
    }

    private ApiHarness(Path socket, ApiServer.Limits limits, io.vmguard.vmm.GuestProtection protection) throws Exception {
        this.socket = socket;
        this.instance = Instance.configurable(new Instance.Launch("test-vm", "interp", new SerialTarget.Null(), events,
                io.vmguard.vmm.IntrospectionSettings.defaults(), io.vmguard.vmm.AntivirusSettings.off(), protection));
        server = ApiServer.start(ApiEndpoints.unix(socket), new ApiContext(instance, hub, events), limits);
        client.start();
    }

    /** The response to {@code METHOD path} with {@code json} as the body (none when null). */
    Answer call(String method, String path, String json) throws Exception {
        Request request = client.newRequest("http://localhost" + path).method(method)
                .transport(new Transport.TCPUnix(socket)).timeout(20, TimeUnit.SECONDS);
        if (json != null) {
            request.body(new StringRequestContent("application/json", json));
        }
        ContentResponse response = request.send();
        return new Answer(response.getStatus(), response.getContentAsString());
    }

    Answer get(String path) throws Exception {
        return call("GET", path, null);
    }

    Answer put(String path, String json) throws Exception {
        return call("PUT", path, json);
    }

    Answer patch(String path, String json) throws Exception {
        return call("PATCH", path, json);
    }

    /** Waits until the instance's VM reports {@code state}, failing after {@code limit}. */
    void awaitState(String state, Duration limit) throws Exception {
        long end = System.nanoTime() + limit.toNanos();
        while (!instance.info().state().equals(state)) {
            if (System.nanoTime() > end) {
                throw new AssertionError("state is " + instance.info().state() + ", not " + state + " after " + limit);
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() throws Exception {
        client.stop();
        server.close();
        instance.close();
        hub.close();
    }

    /** A status and body. */
    record Answer(int status, String body) {
        String fault() throws Exception {
            return Json.MAPPER.readTree(body).path("fault_message").asText(null);
        }

        com.fasterxml.jackson.databind.JsonNode json() throws Exception {
            return Json.MAPPER.readTree(body);
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }
}
