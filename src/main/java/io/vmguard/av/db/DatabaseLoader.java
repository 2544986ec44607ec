package io.vmguard.av.db;

import io.vmguard.av.LoadProblem;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Reads ClamAV database files and directories into {@link DatabaseContents}. A bad line is reported with its
 * file and line number and skipped; a bad file is reported and skipped; nothing in a database makes the load
 * fail. Only a path the caller named that does not exist is an {@link IOException}.
 *
 * <p>Order, as ClamAV's cli_loaddbdir: ignore lists first, so that they apply to everything loaded after them;
 * then {@code daily.*} containers before the others (their .ign2 members drop signatures of main); then the
 * rest by name. A directory is read one level deep, as {@code clamscan -d DIR} does.
 */
public final class DatabaseLoader {
    /** More problems than this from one file are counted, not listed. */
    static final int MAX_PROBLEMS_PER_FILE = 100;
    /** More signatures than this in one file are not loaded (the largest official file holds about 5 million). */
    static final int MAX_SIGNATURES_PER_FILE = 16_000_000;
    static final int MAX_CONTAINER_MEMBERS = 1024;

    private final Consumer<LoadProblem> sink;
    private final List<LoadProblem> problems = new ArrayList<>();
    private final IgnoreList ignores = new IgnoreList();
    private final DatabaseContents contents = new DatabaseContents();
    private final boolean pua;

    /** @param pua whether to load PUA databases (.hdu .hsu .mdu .msu .ndu .ldu) */
    public DatabaseLoader(Consumer<LoadProblem> sink, boolean pua) {
        this.sink = sink == null ? p -> { } : sink;
        this.pua = pua;
    }

    public DatabaseLoader(Consumer<LoadProblem> sink) {
        this(sink, true);
    }

    public DatabaseContents contents() {
        return contents;
    }

    public List<LoadProblem> problems() {
        return List.copyOf(problems);
    }

    /** Loads files and directories; throws only when one of the named paths does not exist or cannot be listed. */
    public void load(List<Path> pathsOrDirs) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path path : pathsOrDirs) {
            if (Files.isDirectory(path)) {
                try (Stream<Path> listing = Files.list(path)) {
                    listing.filter(Files::isRegularFile).forEach(files::add);
                }
            } else if (Files.exists(path)) {
                files.add(path);
            } else {
                throw new NoSuchFileException(path.toString(), null, "no such database file or directory");
            }
        }
        files.sort(Comparator.comparingInt(DatabaseLoader::rank).thenComparing(p -> p.getFileName().toString()));
        for (Path file : files) {
            loadFile(file);
        }
        dropIgnoredLate();
    }

    private static int rank(Path file) {
        String name = file.getFileName().toString();
        DbFormat format = DbFormat.of(name);
        if (format == DbFormat.IGNORE) {
            return 0;
        }
        return format == DbFormat.CONTAINER && name.startsWith("daily.") ? 1 : 2;
    }

    private void loadFile(Path file) {
        String name = file.getFileName().toString();
        DbFormat format = DbFormat.of(name);
        switch (format) {
            case UNKNOWN -> report(name, 0, "not a signature database (unknown extension), ignored");
            case NOT_USED -> report(name, 0, "a ClamAV database of a kind vmguard does not use, ignored");
            case CONTAINER -> loadContainer(file, name);
            default -> {
                if (!pua && DbFormat.isPua(name)) {
                    report(name, 0, "PUA signatures (potentially unwanted applications), not loaded without --detect-pua");
                    return;
                }
                try (InputStream in = Files.newInputStream(file)) {
                    loadStream(name, format, in, false);
                } catch (IOException e) {
                    report(name, 0, "cannot read: " + message(e));
                }
            }
        }
    }

    private void loadContainer(Path file, String name) {
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        boolean cvd = lower.endsWith(".cvd");
        boolean cld = lower.endsWith(".cld");
        CvdHeader header;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            byte[] block = in.readNBytes(CvdHeader.SIZE);
            if (block.length < CvdHeader.SIZE) {
                report(name, 0, "shorter than the 512-byte container header, refused");
                return;
            }
            header = CvdHeader.parse(block);
            if (!cld) {
                // ClamAV 1.4 checks the MD5 (and the signature) of .cvd only; sigtool writes a correct MD5 into a .cud
                // too, so vmguard checks it there as well. A .cld is rewritten by freshclam's incremental updates,
                // which leave the header's MD5 stale, so it is not checked (ClamAV does not either).
                MessageDigest md5 = MessageDigest.getInstance("MD5");
                in.transferTo(new java.io.OutputStream() {
                    @Override
                    public void write(int b) {
                        md5.update((byte) b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) {
                        md5.update(b, off, len);
                    }
                });
                String actual = HexFormat.of().formatHex(md5.digest());
                if (!actual.equals(header.md5())) {
                    report(name, 0, "the header's MD5 " + header.md5() + " does not match the archive (" + actual
                            + "): corrupt or tampered, refused");
                    return;
                }
            }
        } catch (LineRejected.Malformed e) {
            report(name, 0, e.getMessage() + ", refused");
            return;
        } catch (IOException e) {
            report(name, 0, "cannot read: " + message(e));
            return;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has MD5", e);
        }
        boolean official = cvd || cld;
        if (cvd && !header.signedByTalos()) {
            report(name, 0, "the digital signature in the header does not verify with ClamAV's key, refused"
                    + " (an unsigned database must be a .cud)");
            return;
        }
        if (header.functionalityLevel() > FunctionalityLevel.ENGINE) {
            report(name, 0, "built for functionality level " + header.functionalityLevel() + ", newer than this engine's "
                    + FunctionalityLevel.ENGINE + "; signatures that need it are skipped");
        }
        if (cld) {
            report(name, 0, "a .cld's header MD5 and signature are not checked (ClamAV does not check them either)");
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file))) {
            raw.skipNBytes(CvdHeader.SIZE);
            raw.mark(8);
            byte[] start = raw.readNBytes(7);
            raw.reset();
            // A .cld holds a plain tar (its first member is COPYING); the others a tar.gz.
            InputStream body = new String(start, java.nio.charset.StandardCharsets.ISO_8859_1).equals("COPYING")
                    ? raw : new GZIPInputStream(raw, 64 * 1024);
            TarReader tar = new TarReader(body);
            List<String> unused = new ArrayList<>();
            List<String> skippedPua = new ArrayList<>();
            int members = 0;
            for (TarReader.Member member = tar.next(); member != null; member = tar.next()) {
                if (++members > MAX_CONTAINER_MEMBERS) {
                    report(name, 0, "more than " + MAX_CONTAINER_MEMBERS + " members; the rest are ignored");
                    break;
                }
                String memberName = member.name().substring(member.name().lastIndexOf('/') + 1);
                DbFormat format = DbFormat.of(memberName);
                switch (format) {
                    case CONTAINER, UNKNOWN, NOT_USED -> {
                        if (!memberName.equals("COPYING") && !memberName.endsWith(".info")) {
                            unused.add(memberName);
                        }
                    }
                    default -> {
                        if (!pua && DbFormat.isPua(memberName)) {
                            skippedPua.add(memberName);
                        } else {
                            loadStream(name + "/" + memberName, format, member.content(), official);
                        }
                    }
                }
            }
            if (!skippedPua.isEmpty()) {
                report(name, 0, "PUA members not loaded without --detect-pua: " + String.join(", ", skippedPua));
            }
            if (!unused.isEmpty()) {
                report(name, 0, "members of kinds vmguard does not use, ignored: " + String.join(", ", unused));
            }
        } catch (IOException e) {
            report(name, 0, "cannot unpack: " + message(e) + " (signatures read before this point are kept)");
        }
    }

    /** Reads one database file's lines. */
    void loadStream(String file, DbFormat format, InputStream in, boolean official) throws IOException {
        LineReader lines = new LineReader(in);
        FileReport report = new FileReport(file);
        int loaded = 0;
        for (String line = lines.next(); line != null; line = lines.next()) {
            if (lines.truncated()) {
                report.problem(lines.number(), "line longer than " + LineReader.MAX_LINE + " bytes, skipped");
                continue;
            }
            // '#' starts a comment in every format (cli_dbgets callers skip such lines); blank lines are skipped,
            // where ClamAV would refuse the whole file.
            if (line.isEmpty() || line.charAt(0) == '#') {
                continue;
            }
            if (loaded >= MAX_SIGNATURES_PER_FILE) {
                report.problem(lines.number(), "more than " + MAX_SIGNATURES_PER_FILE + " signatures in one file; the rest are not loaded");
                break;
            }
            try {
                if (add(format, line, file, official)) {
                    loaded++;
                }
            } catch (LineRejected e) {
                if (e instanceof LineRejected.Unsupported) {
                    report.skipped(lines.number(), e.getMessage());
                } else {
                    report.problem(lines.number(), e.getMessage());
                }
            }
        }
        report.finish();
    }

    /** Parses and keeps one line; false when it was skipped silently (level, ignore list). */
    private boolean add(DbFormat format, String line, String file, boolean official) throws LineRejected {
        String suffix = official ? "" : ".UNOFFICIAL";
        switch (format) {
            case FILE_HASH, SECTION_HASH, ALLOW -> {
                HashSignature s = HashLineParser.parse(line, format == DbFormat.SECTION_HASH, file);
                if (s == null || (format != DbFormat.ALLOW && ignores.drops(s.name(), line))) {
                    return false;
                }
                HashSignature named = new HashSignature(s.kind(), s.digest(), s.size(), s.name() + suffix, s.database());
                HashTable.Builder table = format == DbFormat.FILE_HASH ? contents.fileHashes : format == DbFormat.SECTION_HASH
                        ? contents.sectionHashes : contents.allowed;
                if (!table.add(named)) {
                    throw LineRejected.malformed("more than " + HashTable.Builder.MAX_ENTRIES + " " + s.kind() + " hashes loaded; not added");
                }
                return true;
            }
            case BODY -> {
                BodySignature s = BodyLineParser.parse(line, file);
                if (s == null || ignores.drops(s.name(), line)) {
                    return false;
                }
                contents.bodies.add(new BodySignature(s.name() + suffix, s.target(), s.offset(), s.pattern(), s.database()));
                return true;
            }
            case LOGICAL -> {
                LogicalSignature s = LogicalLineParser.parse(line, file);
                if (s == null || ignores.drops(s.name(), line)) {
                    return false;
                }
                contents.logicals.add(new LogicalSignature(s.name() + suffix, s.description(), s.expression(),
                        s.subsignatures(), s.database()));
                return true;
            }
            case IGNORE -> {
                ignores.add(line);
                return true;
            }
            default -> throw new IllegalArgumentException("not a line format: " + format);
        }
    }

    /** Name-only ignore entries that came after the signatures they name (a .ign2 inside a later container). */
    private void dropIgnoredLate() {
        if (ignores.isEmpty()) {
            return;
        }
        // Stored names carry .UNOFFICIAL, which the ignore list's normalisation removes.
        contents.fileHashes.removeIf(ignores::dropsByName);
        contents.sectionHashes.removeIf(ignores::dropsByName);
        contents.bodies.removeIf(s -> ignores.dropsByName(s.name()));
        contents.logicals.removeIf(s -> ignores.dropsByName(s.name()));
    }

    private void report(String file, int line, String message) {
        LoadProblem problem = new LoadProblem(file, line, message);
        problems.add(problem);
        sink.accept(problem);
    }

    private static String message(IOException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /** One file's problems: malformed lines one by one (up to a bound), unsupported signatures summed by reason. */
    private final class FileReport {
        private final String file;
        private int problemCount;
        private final Map<String, int[]> skips = new LinkedHashMap<>();

        FileReport(String file) {
            this.file = file;
        }

        void problem(int line, String message) {
            if (++problemCount <= MAX_PROBLEMS_PER_FILE) {
                report(file, line, message);
            }
        }

        void skipped(int line, String reason) {
            skips.computeIfAbsent(reason, r -> new int[] {0, line})[0]++;
        }

        void finish() {
            if (problemCount > MAX_PROBLEMS_PER_FILE) {
                report(file, 0, (problemCount - MAX_PROBLEMS_PER_FILE) + " more malformed lines not listed");
            }
            skips.forEach((reason, tally) -> report(file, 0, tally[0] + (tally[0] == 1 ? " signature" : " signatures")
                    + " skipped: " + reason + " (first at line " + tally[1] + ")"));
        }
    }
}
