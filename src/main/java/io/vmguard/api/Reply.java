package io.vmguard.api;

import java.io.IOException;
import java.io.OutputStream;

/** What an endpoint answers. */
public sealed interface Reply {
    /** 204, Firecracker's answer to every request that changes something. */
    record NoContent() implements Reply {}

    /** A JSON body with this status. */
    record Body(int status, Object value) implements Reply {}

    /** A response written as it goes, one line at a time, until the writer returns ({@code GET /events}). */
    record Stream(String contentType, LineWriter writer) implements Reply {}

    @FunctionalInterface
    interface LineWriter {
        void writeTo(OutputStream out) throws IOException, InterruptedException;
    }

    static Reply noContent() {
        return new NoContent();
    }

    static Reply ok(Object value) {
        return new Body(200, value);
    }
}
