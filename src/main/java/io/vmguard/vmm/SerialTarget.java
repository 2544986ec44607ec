package io.vmguard.vmm;

import java.nio.file.Path;

/** Where the serial console (COM1) goes. */
public sealed interface SerialTarget {
    /** The terminal: guest output to stdout, stdin to the guest. */
    record Stdio() implements SerialTarget {}

    /** Guest output appended to a file; no input. */
    record File(Path path) implements SerialTarget {}

    /** Nowhere: the guest's console output is dropped. */
    record Null() implements SerialTarget {}

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
        throw new IllegalArgumentException("serial target must be stdio, null or file:PATH, not '" + text + "'");
    }
}
