package io.vmguard.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/**
 * Writes each event as one JSON object on its own line ({@code --events FILE}), flushed as it is written so
 * that a reader tailing the file sees an event when it happens and a crash loses none already reported.
 */
public final class JsonLinesEventSink implements EventSink {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final OutputStream out;
    private boolean failed;

    public JsonLinesEventSink(OutputStream out) {
        this.out = out;
    }

    /** Appends to {@code file}, creating it (mode from the umask) if needed. */
    public static JsonLinesEventSink append(Path file) throws IOException {
        return new JsonLinesEventSink(Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                StandardOpenOption.WRITE));
    }

    /** The event as one line of JSON, without the newline. */
    public static String toJson(SecurityEvent event) {
        ObjectNode node = JSON.createObjectNode();
        node.put("time", DateTimeFormatter.ISO_INSTANT.format(event.time().truncatedTo(ChronoUnit.MILLIS)));
        node.put("vm", event.vm());
        node.put("source", event.source().label());
        node.put("kind", event.kind());
        node.put("severity", event.severity().label());
        node.set("details", JSON.valueToTree(event.details()));
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized void emit(SecurityEvent event) {
        if (failed) {
            return;
        }
        try {
            out.write((toJson(event) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException | UncheckedIOException e) {
            failed = true;
            System.err.println("vmguard: events: cannot write, further events are dropped: " + e.getMessage());
        }
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException e) {
            System.err.println("vmguard: events: close failed: " + e.getMessage());
        }
    }
}
