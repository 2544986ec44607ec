package io.vmguard.api;

import java.nio.ByteBuffer;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/** Writes responses in Firecracker's shape: JSON bodies, and errors as {@code {"fault_message": "..."}}. */
final class Faults {
    private Faults() {}

    static void writeJson(Response response, Callback callback, int status, Object value) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(Json.write(value)), callback);
    }

    static void writeFault(Response response, Callback callback, int status, String message) {
        writeJson(response, callback, status, Map.of("fault_message", message));
    }
}
