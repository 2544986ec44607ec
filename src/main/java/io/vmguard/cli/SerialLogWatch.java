package io.vmguard.cli;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Watches a serial log file for texts in order and runs each one's action once, when the text first appears
 * after the previous one: how {@code --profile} leaves boot out of a benchmark's profile (from the guest's ready
 * marker, printed by the initramfs's init once booted) or profiles a window between two of the kernel's lines.
 * A daemon thread reading the file's new bytes every 20 ms, so an action runs up to that late; it gives up
 * quietly when the file cannot be read.
 */
final class SerialLogWatch {
    static final String READY_MARKER = "VMGUARD-GUEST-READY";
    private static final long POLL_NANOS = 20_000_000L;

    /** A text to wait for and what to do when it appears. */
    record Sighting(String text, Runnable action) {}

    private SerialLogWatch() {}

    static void start(Path log, List<Sighting> inOrder) {
        List<Sighting> sightings = List.copyOf(inOrder);
        Thread.ofPlatform().daemon().name("serial-log-watch").start(() -> watch(log, sightings));
    }

    private static void watch(Path log, List<Sighting> sightings) {
        int next = 0;
        byte[] text = sightings.getFirst().text().getBytes(StandardCharsets.UTF_8);
        int matched = 0; // bytes of text matched so far, across reads
        long position = 0;
        byte[] buffer = new byte[64 * 1024];
        while (true) {
            try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
                file.seek(position);
                int n;
                while ((n = file.read(buffer)) > 0) {
                    position += n;
                    for (int i = 0; i < n; i++) {
                        matched = buffer[i] == text[matched] ? matched + 1 : (buffer[i] == text[0] ? 1 : 0);
                        if (matched == text.length) {
                            sightings.get(next++).action().run();
                            if (next == sightings.size()) {
                                return;
                            }
                            text = sightings.get(next).text().getBytes(StandardCharsets.UTF_8);
                            matched = 0;
                        }
                    }
                }
            } catch (IOException e) {
                if (position > 0) {
                    return; // the file went away mid-run: no window, the profile covers the whole run
                }
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }
}
