package io.vmguard.vmm;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;

/** Where a console (the COM1 UART, or the virtio console hvc0) goes. */
public sealed interface SerialTarget {
    /** The terminal: guest output to stdout, stdin to the guest. */
    record Stdio() implements SerialTarget {}

    /** Guest output appended to a file; no input. */
    record File(Path path) implements SerialTarget {}

    /** Nowhere: the guest's console output is dropped. */
    record Null() implements SerialTarget {}

    /** Streams the caller owns (tests, an embedding program); never parsed from the command line. */
    record Streams(InputStream input, OutputStream output) implements SerialTarget {}

    static SerialTarget parse(String text) {
        if (text.equals("stdio")) {
            return new Stdio();
        }
        if (text.equals("null")) {
            return new Null();
        }
        if (text.startsWith("file:") && text.length() > "file:".length()) {
            return new File(Path.of(text.substring("file:".length())));
        }
        throw new IllegalArgumentException("console target must be stdio, null or file:PATH, not '" + text + "'");
    }
}
