package io.vmguard.cli;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.locks.LockSupport;

/**
 * Watches a serial log file for the guest's ready marker (printed by the initramfs's init once booted) and
 * then runs an action once: how {@code --profile} leaves boot out of a benchmark's profile. A daemon thread
 * reading the file's new bytes every 20 ms; it gives up quietly when the file cannot be read.
 */
final class ReadyMarkerWatch {
    static final String MARKER = "VMGUARD-GUEST-READY";
    private static final long POLL_NANOS = 20_000_000L;

    private ReadyMarkerWatch() {}

    static void start(Path log, Runnable onReady) {
        Thread.ofPlatform().daemon().name("ready-marker-watch").start(() -> watch(log, onReady));
    }

    private static void watch(Path log, Runnable onReady) {
        byte[] marker = MARKER.getBytes(StandardCharsets.US_ASCII);
        int matched = 0; // marker bytes matched so far, across reads
        long position = 0;
        byte[] buffer = new byte[64 * 1024];
        while (true) {
            try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
                file.seek(position);
                int n;
                while ((n = file.read(buffer)) > 0) {
                    position += n;
                    for (int i = 0; i < n; i++) {
                        matched = buffer[i] == marker[matched] ? matched + 1 : (buffer[i] == marker[0] ? 1 : 0);
                        if (matched == marker.length) {
                            onReady.run();
                            return;
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
