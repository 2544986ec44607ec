package io.vmguard.sched;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The threads of a process as /proc/PID/task lists them. A thread may end between the listing and the read
 * of its files: such a thread is left out, not an error.
 */
public final class ProcTasks {
    /** No process has more threads than this worth reading; a bound on what one listing costs. */
    static final int MAX_THREADS = 4096;
    private static final int MAX_FILE = 4096;

    private ProcTasks() {}

    public static Path taskDir(long pid) {
        return Path.of("/proc", Long.toString(pid), "task");
    }

    /** The live threads of {@code pid}, by thread id. */
    public static List<HostThread> list(long pid) throws IOException {
        List<HostThread> threads = new ArrayList<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(taskDir(pid))) {
            for (Path task : tasks) {
                if (threads.size() >= MAX_THREADS) {
                    break;
                }
                String tid = task.getFileName().toString();
                if (!tid.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                String name = readSmall(task.resolve("comm"));
                if (name != null) {
                    name = name.strip();
                    threads.add(new HostThread(Integer.parseInt(tid), name, ThreadRole.of(name)));
                }
            }
        }
        threads.sort(Comparator.comparingInt(HostThread::tid));
        return threads;
    }

    /** A small /proc file's text, or null if its thread has gone. */
    static String readSmall(Path file) throws IOException {
        try {
            byte[] bytes = Files.readAllBytes(file);
            return new String(bytes, 0, Math.min(bytes.length, MAX_FILE), StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            if (Files.exists(file.getParent())) {
                throw e;
            }
            return null;
        }
    }
}
