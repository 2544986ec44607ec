package io.vmguard.av.testing;

import io.vmguard.av.Detection;
import io.vmguard.av.Scanner;
import io.vmguard.testing.HostTool;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Debian's clamscan as the test oracle (av.md §4.2): only the databases in one directory, every match
 * ({@code -z}), recursive, size limits raised, names without ClamAV's {@code .UNOFFICIAL} suffix. Skips the
 * test where clamscan is absent, fails under {@code -Dvmguard.requireGuest=true} (CI installs it).
 */
public final class Clamscan {
    private final Path executable;

    private Clamscan(Path executable) {
        this.executable = executable;
    }

    public static Clamscan require() {
        return new Clamscan(HostTool.require("clamscan", "apt-get install clamav (scripts/install-deps installs it)"));
    }

    /** Every file clamscan reported under {@code corpus}, with the signature names it found (empty: OK). */
    public Map<Path, Set<String>> scan(Path dbDir, Path corpus) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(executable.toString(), "-z", "--no-summary", "-r",
                "--max-filesize=4000M", "--max-scansize=4000M", "--disable-cache", "-d", dbDir.toString(), corpus.toString()));
        Path out = Files.createTempFile("clamscan", ".out");
        Path err = Files.createTempFile("clamscan", ".err");
        try {
            Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            int status = process.waitFor();
            if (status != 0 && status != 1) {
                throw new IllegalStateException("clamscan exited " + status + ": "
                        + Files.readString(err, StandardCharsets.UTF_8).strip());
            }
            return parse(Files.readAllLines(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** {@code PATH: NAME FOUND}, {@code PATH: OK} and {@code PATH: Empty file} lines; anything else (an error) is a failure. */
    static Map<Path, Set<String>> parse(List<String> lines) {
        Map<Path, Set<String>> out = new TreeMap<>();
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            int colon = line.lastIndexOf(": ");
            if (colon < 0) {
                throw new IllegalStateException("unexpected clamscan line: " + line);
            }
            Path path = Path.of(line.substring(0, colon));
            String verdict = line.substring(colon + 2);
            Set<String> names = out.computeIfAbsent(path, p -> new HashSet<>());
            if (verdict.endsWith(" FOUND")) {
                names.add(stripUnofficial(verdict.substring(0, verdict.length() - " FOUND".length())));
            } else if (!verdict.equals("OK") && !verdict.equals("Empty file")) { // clamscan skips empty files: clean
                throw new IllegalStateException("clamscan could not scan " + path + ": " + verdict);
            }
        }
        return out;
    }

    /**
     * "file: Name FOUND" for every signature clamscan found in each file of {@code corpus} (file names relative
     * to it, names without {@code .UNOFFICIAL}): the lines the differential tests compare with {@link #findings(Scanner, Path)}.
     */
    public SortedSet<String> findings(Path dbDir, Path corpus) throws IOException, InterruptedException {
        SortedSet<String> lines = new TreeSet<>();
        scan(dbDir, corpus).forEach((file, names) -> names.forEach(
                name -> lines.add(corpus.relativize(file) + ": " + name + " FOUND")));
        return lines;
    }

    /** The same lines from vmguard's scanner, every match of every regular file in {@code corpus}. */
    public static SortedSet<String> findings(Scanner scanner, Path corpus) throws IOException {
        SortedSet<String> lines = new TreeSet<>();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(corpus)) {
            files = walk.filter(Files::isRegularFile).toList();
        }
        for (Path file : files) {
            for (Detection detection : scanner.scanFile(file, true)) {
                lines.add(corpus.relativize(file) + ": " + stripUnofficial(detection.name()) + " FOUND");
            }
        }
        return lines;
    }

    /** "" when both found the same, else what only one of them found, one line each. */
    public static String disagreement(SortedSet<String> clamscan, SortedSet<String> vmguard) {
        SortedSet<String> onlyClamscan = new TreeSet<>(clamscan);
        onlyClamscan.removeAll(vmguard);
        SortedSet<String> onlyVmguard = new TreeSet<>(vmguard);
        onlyVmguard.removeAll(clamscan);
        return onlyClamscan.isEmpty() && onlyVmguard.isEmpty() ? ""
                : "only clamscan: " + onlyClamscan + "\nonly vmguard: " + onlyVmguard;
    }

    public static String stripUnofficial(String name) {
        return name.endsWith(".UNOFFICIAL") ? name.substring(0, name.length() - ".UNOFFICIAL".length()) : name;
    }
}
