package io.vmguard.vmm;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;

/** The host streams behind a console target, shared by the COM1 UART and the virtio console. */
final class ConsoleStreams {
    private ConsoleStreams() {}

    /** Where the guest's console output goes; unbuffered, so the console feels live and nothing is held at power-off. */
    static OutputStream output(SerialTarget target, String what) throws VmException {
        return switch (target) {
            case SerialTarget.Stdio stdio -> new FileOutputStream(FileDescriptor.out);
            case SerialTarget.Null ignored -> OutputStream.nullOutputStream();
            case SerialTarget.Streams streams -> streams.output();
            case SerialTarget.File file -> {
                try {
                    yield Files.newOutputStream(file.path(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                } catch (IOException e) {
                    throw new VmException("cannot open " + what + " output " + file.path() + ": " + e.getMessage(), e);
                }
            }
        };
    }

    /** Where the guest's console input comes from, or null for a target without input. */
    static InputStream input(SerialTarget target) {
        return switch (target) {
            case SerialTarget.Stdio stdio -> System.in;
            case SerialTarget.Streams streams -> streams.input();
            case SerialTarget.File file -> null;
            case SerialTarget.Null ignored -> null;
        };
    }

    /** Whether vmguard opened the output stream (and so closes it): files and the null sink, not stdout or a caller's stream. */
    static boolean ownsOutput(SerialTarget target) {
        return target instanceof SerialTarget.File || target instanceof SerialTarget.Null;
    }

    static void close(OutputStream output, SerialTarget target, String what) {
        try {
            output.flush();
            if (ownsOutput(target)) {
                output.close();
            }
        } catch (IOException e) {
            System.err.println("vmguard: " + what + " output: " + e.getMessage());
        }
    }
}
