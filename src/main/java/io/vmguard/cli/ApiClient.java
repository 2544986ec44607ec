package io.vmguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.io.Transport;

/**
 * The CLI's side of the control API: Jetty's HTTP client over the API's Unix socket. Every failure (no
 * server, a refused request) becomes a {@link CliException} with one line: the server's fault_message
 * where it sent one.
 */
final class ApiClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Longer than the server's own request deadline, so its 503 arrives before we give up. */
    private static final long TIMEOUT_SECONDS = 90;

    private final Path socket;
    private final HttpClient http = new HttpClient();

    /** A reply: status and body. */
    record Reply(int status, String body) {}

    ApiClient(Path socket) throws CliException {
        this.socket = socket;
        try {
            http.start();
        } catch (Exception e) {
            throw new CliException("cannot start the HTTP client: " + e.getMessage());
        }
    }

    private Request request(String method, String path) {
        return http.newRequest("http://localhost" + path).method(method).transport(new Transport.TCPUnix(socket));
    }

    Reply send(String method, String path, String json) throws CliException {
        Request request = request(method, path).timeout(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (json != null) {
            request.body(new StringRequestContent("application/json", json));
        }
        try {
            ContentResponse response = request.send();
            return new Reply(response.getStatus(), response.getContentAsString());
        } catch (ExecutionException e) {
            throw unreachable(e.getCause());
        } catch (TimeoutException e) {
            throw new CliException("the API at " + socket + " did not answer within " + TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
    }

    /** GET {@code path}, which must answer 200 with JSON. */
    JsonNode get(String path) throws CliException {
        Reply reply = send("GET", path, null);
        if (reply.status() != 200) {
            throw refused(reply);
        }
        return parse(reply.body());
    }

    /** A request with a JSON body that answers 200 with JSON (vmguard's introspection reads). */
    JsonNode put(String path, String json) throws CliException {
        Reply reply = send("PUT", path, json);
        if (reply.status() != 200) {
            throw refused(reply);
        }
        return parse(reply.body());
    }

    /** A request that changes something: Firecracker answers 204. */
    void change(String method, String path, String json) throws CliException {
        Reply reply = send(method, path, json);
        if (reply.status() != 204) {
            throw refused(reply);
        }
    }

    /** The body of a streaming GET, as it arrives. */
    InputStream stream(String path) throws CliException {
        InputStreamResponseListener listener = new InputStreamResponseListener();
        request("GET", path).send(listener);
        try {
            Response response = listener.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (response.getStatus() != 200) {
                String body = new String(listener.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                throw refused(new Reply(response.getStatus(), body));
            }
            return listener.getInputStream();
        } catch (ExecutionException e) {
            throw unreachable(e.getCause());
        } catch (TimeoutException e) {
            throw new CliException("the API at " + socket + " did not answer within " + TIMEOUT_SECONDS + " s");
        } catch (IOException e) {
            throw new CliException("reading from the API at " + socket + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
    }

    private CliException unreachable(Throwable cause) {
        if (!Files.exists(socket)) {
            return new CliException("no API socket at " + socket + " (is vmguard serve or run --api-sock running?)");
        }
        if (cause instanceof ConnectException) {
            return new CliException("nothing answers on " + socket + " (a stale socket?)");
        }
        return new CliException("cannot reach the API at " + socket + ": " + cause.getMessage());
    }

    private static CliException refused(Reply reply) {
        String fault;
        try {
            fault = JSON.readTree(reply.body()).path("fault_message").asText("");
        } catch (IOException e) {
            fault = "";
        }
        return new CliException((fault.isEmpty() ? "the API answered " + reply.status() : fault).lines().findFirst().orElse(""));
    }

    static JsonNode parse(String body) throws CliException {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new CliException("the API sent a body that is not JSON: " + e.getMessage());
        }
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            http.stop();
        } catch (Exception e) {
            // the process is about to exit; nothing is lost
        }
    }
}
