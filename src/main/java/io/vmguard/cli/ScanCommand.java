package io.vmguard.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.api.Version;
import io.vmguard.av.Detection;
import io.vmguard.av.LoadProblem;
import io.vmguard.av.Scanner;
import io.vmguard.av.SignatureDatabase;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vmguard scan}: clamscan's job with vmguard's engine. Output lines, summary and exit status follow
 * clamscan: {@code path: Name FOUND} or {@code path: OK} per file; 0 when everything is clean, 1 when something
 * was found, 2 on any error (a missing database, an unreadable file), errors winning. As in clamscan, a
 * directory is scanned one level deep unless {@code -r} is given, and symbolic links met inside directories are
 * not followed (links named on the command line are).
 */
@Command(name = "scan", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Scan files with ClamAV signature databases (.cvd/.cld/.cud, .hdb, .hsb, .mdb, .ndb, .ldb, .fp, .ign2...), like clamscan.")
final class ScanCommand implements Callable<Integer> {
    static final int CLEAN = 0;
    static final int FOUND = 1;
    static final int ERROR = 2;
    private static final long PROGRESS_AFTER_NANOS = 10_000_000_000L;
    private static final int MAX_PROBLEMS_SHOWN = 20;

    @Option(names = {"-d", "--database"}, required = true, paramLabel = "DB",
            description = "A database file or directory; repeat to load several. Only these are loaded.")
    List<Path> databases;

    @Option(names = {"-r", "--recursive"}, description = "Scan directories recursively (without it, only the files directly in a directory).")
    boolean recursive;

    @Option(names = {"-z", "--all-match"}, description = "Report every matching signature, not only the first.")
    boolean allMatch;

    @Option(names = "--json", description = "One JSON object per file on stdout (and a final {\"summary\": ...}).")
    boolean json;

    @Option(names = "--stats", description = "Add signatures loaded, load time, matcher memory and throughput to the summary.")
    boolean stats;

    @Option(names = "--detect-pua", description = "Also load PUA databases (.hdu .hsu .mdu .msu .ndu .ldu), as clamscan --detect-pua.")
    boolean detectPua;

    @Option(names = {"-i", "--infected"}, description = "Print only files where something was found.")
    boolean infectedOnly;

    @Option(names = "--no-summary", description = "Do not print the summary at the end.")
    boolean noSummary;

    @Parameters(arity = "1..*", paramLabel = "FILE|DIR", description = "Files and directories to scan.")
    List<Path> targets;

    private final ObjectMapper mapper = new ObjectMapper();
    private final AtomicLong files = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private int directories;
    private int infected;
    private int errors;
    private PrintStream out;
    private volatile boolean progressOnTerminal;
    /** The file being scanned, for the progress line (a single large file takes a while). */
    private volatile String current = "";

    @Override
    public Integer call() {
        out = System.out;
        PrintStream err = System.err;
        SignatureDatabase db;
        try {
            List<LoadProblem> shown = new ArrayList<>();
            db = SignatureDatabase.load(databases, problem -> {
                if (shown.size() < MAX_PROBLEMS_SHOWN) {
                    err.println("vmguard scan: " + problem);
                }
                shown.add(problem);
            }, detectPua);
            if (shown.size() > MAX_PROBLEMS_SHOWN) {
                err.println("vmguard scan: " + (shown.size() - MAX_PROBLEMS_SHOWN) + " more database problems not shown");
            }
        } catch (NoSuchFileException e) {
            err.println("vmguard scan: cannot load database " + e.getFile() + ": no such file or directory");
            return ERROR;
        } catch (IOException e) {
            err.println("vmguard scan: cannot load the databases: " + e.getMessage());
            return ERROR;
        }
        Scanner scanner = new Scanner(db);
        long start = System.nanoTime();
        ScheduledExecutorService progress = startProgress(err, start);
        try {
            for (Path target : targets) {
                if (Files.isDirectory(target)) {
                    directory(scanner, target);
                } else {
                    file(scanner, target);
                }
            }
        } finally {
            progress.shutdownNow();
            try {
                progress.awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (progressOnTerminal) {
                err.print("\r\033[K");   // leave no half progress line behind
                err.flush();
            }
        }
        long elapsed = System.nanoTime() - start;
        if (!noSummary) {
            summary(db, elapsed);
        }
        out.flush();
        return errors > 0 ? ERROR : infected > 0 ? FOUND : CLEAN;
    }

    private void directory(Scanner scanner, Path dir) {
        directories++;
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> listing = Files.newDirectoryStream(dir)) {
            listing.forEach(entries::add);
        } catch (IOException e) {
            error(dir, reason(e));
            return;
        }
        entries.sort(null);
        for (Path entry : entries) {
            if (Files.isSymbolicLink(entry)) {
                continue;
            }
            if (Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
                if (recursive) {
                    directory(scanner, entry);
                }
            } else if (Files.isRegularFile(entry, LinkOption.NOFOLLOW_LINKS)) {
                file(scanner, entry);
            }
        }
    }

    private void file(Scanner scanner, Path file) {
        List<Detection> found;
        long size;
        try {
            if (!Files.exists(file)) {
                throw new NoSuchFileException(file.toString());
            }
            if (!Files.isRegularFile(file)) {
                error(file, "Not a regular file");
                return;
            }
            size = Files.size(file);
            current = String.format(Locale.ROOT, "; now %s (%.1f MB)", file.getFileName(), size / (1024.0 * 1024.0));
            found = scanner.scanFile(file, allMatch);
            current = "";
        } catch (IOException e) {
            error(file, reason(e));
            return;
        }
        files.incrementAndGet();
        bytes.addAndGet(size);
        if (!found.isEmpty()) {
            infected++;
        }
        if (json) {
            ObjectNode line = mapper.createObjectNode();
            line.put("file", file.toString());
            line.put("status", found.isEmpty() ? "OK" : "FOUND");
            line.put("size", size);
            ArrayNode detections = line.putArray("detections");
            for (Detection d : found) {
                ObjectNode node = detections.addObject();
                node.put("name", d.name());
                node.put("offset", d.offset());
                node.put("database", d.database());
            }
            if (!found.isEmpty() || !infectedOnly) {
                out.println(line);
            }
        } else if (found.isEmpty()) {
            if (!infectedOnly) {
                out.println(file + ": OK");
            }
        } else {
            for (Detection d : found) {
                out.println(file + ": " + d.name() + " FOUND");
            }
        }
    }

    private void error(Path file, String reason) {
        errors++;
        if (json) {
            ObjectNode line = mapper.createObjectNode();
            line.put("file", file.toString());
            line.put("status", "ERROR");
            line.put("error", reason);
            out.println(line);
        } else {
            out.println(file + ": " + reason + " ERROR");
        }
    }

    private static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "No such file or directory.";
        }
        if (e instanceof AccessDeniedException) {
            return "Access denied.";
        }
        return "Can't read file: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + ".";
    }

    private void summary(SignatureDatabase db, long elapsedNanos) {
        double seconds = elapsedNanos / 1e9;
        double megabytes = bytes.get() / (1024.0 * 1024.0);
        if (json) {
            ObjectNode summary = mapper.createObjectNode();
            ObjectNode s = summary.putObject("summary");
            s.put("known_viruses", db.signatureCount());
            s.put("scanned_directories", directories);
            s.put("scanned_files", files.get());
            s.put("infected_files", infected);
            s.put("errors", errors);
            s.put("data_scanned_bytes", bytes.get());
            s.put("time_seconds", seconds);
            if (stats) {
                s.put("load_seconds", db.loadTime().toNanos() / 1e9);
                s.put("matcher_bytes", db.footprintBytes());
                s.put("load_problems", db.problems().size());
                s.put("mb_per_second", seconds > 0 ? megabytes / seconds : 0);
            }
            out.println(summary);
            return;
        }
        out.println();
        out.println("----------- SCAN SUMMARY -----------");
        out.println("Known viruses: " + db.signatureCount());
        out.println("Engine version: vmguard " + Version.NUMBER);
        out.println("Scanned directories: " + directories);
        out.println("Scanned files: " + files.get());
        out.println("Infected files: " + infected);
        if (errors > 0) {
            out.println("Total errors: " + errors);
        }
        out.println(String.format(Locale.ROOT, "Data scanned: %.2f MB", megabytes));
        out.println(String.format(Locale.ROOT, "Time: %.3f sec (%d m %d s)", seconds, (long) seconds / 60, (long) seconds % 60));
        if (stats) {
            out.println(String.format(Locale.ROOT, "Load time: %.3f sec", db.loadTime().toNanos() / 1e9));
            out.println(String.format(Locale.ROOT, "Matcher memory: %.2f MB", db.footprintBytes() / (1024.0 * 1024.0)));
            out.println("Database problems: " + db.problems().size());
            out.println(String.format(Locale.ROOT, "Throughput: %.2f MB/s", seconds > 0 ? megabytes / seconds : 0.0));
        }
    }

    /** isatty(2) through FFM; false when it cannot be asked (no native access). */
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle isatty = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(2) == 1;
        } catch (Throwable e) {
            return false;
        }
    }

    /**
     * Progress on stderr: redrawn every half second when stderr is a terminal, else a line every ten
     * seconds once the scan has taken ten seconds. Never mixed into stdout.
     */
    private ScheduledExecutorService startProgress(PrintStream err, long start) {
        boolean terminal = stderrIsTerminal();
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "scan-progress");
            t.setDaemon(true);
            return t;
        });
        long period = terminal ? 500 : 10_000;
        timer.scheduleAtFixedRate(() -> {
            long elapsed = System.nanoTime() - start;
            if (!terminal && elapsed < PROGRESS_AFTER_NANOS) {
                return;
            }
            double mb = bytes.get() / (1024.0 * 1024.0);
            String text = String.format(Locale.ROOT, "scanned %d files, %.1f MB (%.1f MB/s)%s", files.get(), mb, mb / (elapsed / 1e9), current);
            if (terminal) {
                progressOnTerminal = true;
                err.print("\r\033[K" + text + "\r");
            } else {
                err.println("vmguard scan: " + text);
            }
            err.flush();
        }, period, period, TimeUnit.MILLISECONDS);
        return timer;
    }
}
