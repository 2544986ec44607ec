package io.vmguard.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.vmguard.av.testing.BenchInputs;
import io.vmguard.av.testing.BenchInputs.ElfCorpus;
import io.vmguard.av.testing.BenchInputs.SignatureSet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The signature-engine benchmark (run by scripts/bench-av): on the same generated sets (wildcard, literal
 * .ndb) and the same two corpora (random bytes, concatenated /usr/lib ELF files), one thread each:
 * <ul>
 *   <li>vmguard: {@link AvEngineRun} in its own JVM (database load, scans of each corpus);</li>
 *   <li>clamscan: load timed on a tiny file, each corpus scanned with -z and raised limits, scan = run - load;</li>
 *   <li>YARA: the set as hex-string rules, yarac, then yara -C; load timed on a tiny file likewise;</li>
 *   <li>Hyperscan: the set as regexes (DOTALL, SINGLEMATCH), block mode, through src/test/c/av-hyperscan.c.</li>
 * </ul>
 * Each process's peak RSS comes from /usr/bin/time (else /proc VmHWM). Prints progress on stderr, a table on
 * stdout, and writes JSON.
 * Usage: {@code AvBenchmark --work DIR --hs HARNESS [--sigs N] [--mb M] [--engines vmguard,clamscan,yara,hyperscan]
 * [--timeout SECONDS] [--json FILE] [--hs-long-gaps true]}
 */
public final class AvBenchmark {
    private static final long SEED = 0xA5_BE_7CL;
    private static final List<String> ALL_ENGINES = List.of("vmguard", "clamscan", "yara", "hyperscan");

    /** One process run: wall time, exit status, peak RSS, its stdout. */
    record Run(double seconds, int status, long rssKb, String stdout, String stderr, boolean timedOut) {
        boolean ok() {
            return !timedOut && (status == 0 || status == 1);
        }

        String problem() {
            if (timedOut) {
                return "timed out";
            }
            String[] lines = stderr.strip().split("\n");
            return "exit " + status + ": " + lines[lines.length - 1];
        }
    }

    private final Path work;
    private final Path harness;
    private final long timeoutSeconds;
    private final Map<String, Object> json = new LinkedHashMap<>();
    private final List<String[]> rows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final Map<String, Double> mbps = new LinkedHashMap<>();
    private final boolean haveTime = Files.isExecutable(Path.of("/usr/bin/time"));
    private int step;
    private int steps;

    private AvBenchmark(Path work, Path harness, long timeoutSeconds) {
        this.work = work;
        this.harness = harness;
        this.timeoutSeconds = timeoutSeconds;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Path work = Path.of(o.getOrDefault("work", "target/bench-av"));
        int sigs = Integer.parseInt(o.getOrDefault("sigs", "100000"));
        long bytes = Long.parseLong(o.getOrDefault("mb", "64")) << 20;
        Set<String> engines = new LinkedHashSet<>(Arrays.asList(o.getOrDefault("engines", String.join(",", ALL_ENGINES)).split(",")));
        Path jsonFile = Path.of(o.getOrDefault("json", work.resolve("bench-av.json").toString()));
        AvBenchmark bench = new AvBenchmark(work, Path.of(o.getOrDefault("hs", work.resolve("av-hyperscan").toString())),
                Long.parseLong(o.getOrDefault("timeout", "1800")));
        bench.run(sigs, bytes, engines, jsonFile, Boolean.parseBoolean(o.getOrDefault("hs-long-gaps", "false")));
    }

    private void run(int sigs, long bytes, Set<String> engines, Path jsonFile, boolean hyperscanLongGaps) throws Exception {
        Files.createDirectories(work);
        progress("generating %d wildcard and %d literal signatures, %d MB random and %d MB ELF corpora", sigs, sigs,
                bytes >> 20, bytes >> 20);
        long t = System.nanoTime();
        List<SignatureSet> sets = List.of(BenchInputs.wildcardSet(work, sigs, SEED, hyperscanLongGaps),
                BenchInputs.literalSet(work, sigs, SEED));
        // Not the generator's seed: the corpus would start with the signatures' own bytes.
        Path random = BenchInputs.randomCorpus(work.resolve("random.bin"), bytes, SEED ^ 0xC0FFEEL);
        ElfCorpus elf = BenchInputs.elfCorpus(work.resolve("elf.bin"), Path.of("/usr/lib"), bytes);
        Path tiny = work.resolve("tiny.bin");
        Files.write(tiny, new byte[] {'h', 'i', '\n'});
        progress("inputs ready in %.1f s (ELF corpus: %d files, %s .. %s)", (System.nanoTime() - t) / 1e9, elf.elfFiles(),
                elf.first(), elf.last());
        List<Path> corpora = List.of(random, elf.file());
        json.put("signatures_per_set", sigs);
        json.put("corpus_bytes", bytes);
        json.put("elf_corpus", Map.of("files", elf.elfFiles(), "first", elf.first(), "last", elf.last()));
        json.put("rss_source", haveTime ? "/usr/bin/time" : "/proc VmHWM");
        steps = sets.size() * engines.size();
        Map<String, Object> results = new LinkedHashMap<>();
        for (SignatureSet set : sets) {
            Map<String, Object> perEngine = new LinkedHashMap<>();
            for (String engine : engines) {
                step++;
                long started = System.nanoTime();
                Map<String, Object> r = switch (engine) {
                    case "vmguard" -> vmguard(set, corpora);
                    case "clamscan" -> clamscan(set, corpora, tiny);
                    case "yara" -> yara(set, corpora, tiny);
                    case "hyperscan" -> hyperscan(set, corpora);
                    default -> throw new IllegalArgumentException("unknown engine " + engine + " (one of " + ALL_ENGINES + ")");
                };
                progress("%s %s done in %.1f s%s", engine, set.name(), (System.nanoTime() - started) / 1e9,
                        r.containsKey("error") ? ": " + r.get("error") : "");
                if (r.containsKey("error")) {
                    rows.add(new String[] {set.name(), engine, "-", "-", "error", "error", "-"});
                }
                perEngine.put(engine, r);
                results.put(set.name(), perEngine);
                json.put("results", results);
                writeJson(jsonFile); // what is done so far survives an interrupted run
            }
        }
        printTable(sets, engines);
        writeJson(jsonFile);
        System.out.println("JSON: " + jsonFile);
    }

    private void writeJson(Path jsonFile) throws IOException {
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(jsonFile.toFile(), json);
    }

    // ---- engines ----

    private Map<String, Object> vmguard(SignatureSet set, List<Path> corpora) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                AvEngineRun.class.getName(), set.ndb().toString()));
        corpora.forEach(c -> command.add(c.toString()));
        progress("vmguard %s: loading %d signatures and scanning both corpora in one JVM ...", set.name(), set.count());
        Run run = run(command, true);
        Map<String, Object> r = new LinkedHashMap<>();
        if (!run.ok()) {
            r.put("error", run.problem());
            return r;
        }
        JsonNode out = new ObjectMapper().readTree(run.stdout());
        r.put("load_seconds", out.get("load_seconds").asDouble());
        r.put("footprint_bytes", out.get("footprint_bytes").asLong());
        r.put("signatures_loaded", out.get("signatures").asInt());
        r.put("load_problems", out.get("problems").asInt());
        r.put("rss_mb", run.rssKb() / 1024);
        List<Map<String, Object>> scans = new ArrayList<>();
        for (JsonNode scan : out.get("scans")) {
            Map<String, Object> s = new LinkedHashMap<>();
            long bytes = scan.get("bytes").asLong();
            s.put("corpus", corpusName(Path.of(scan.get("file").asText())));
            s.put("scan_seconds", scan.get("first_seconds").asDouble());
            s.put("warm_scan_seconds", scan.get("best_seconds").asDouble());
            s.put("mb_per_s", rate(bytes, scan.get("first_seconds").asDouble()));
            s.put("warm_mb_per_s", rate(bytes, scan.get("best_seconds").asDouble()));
            s.put("matches", scan.get("detections").asLong());
            scans.add(s);
            mbps.put(set.name() + "/" + s.get("corpus") + "/vmguard", rate(bytes, scan.get("first_seconds").asDouble()));
        }
        r.put("scans", scans);
        row(set, "vmguard", out.get("load_seconds").asDouble(), run.rssKb(), scans);
        // The same process's best later scan (JIT warm): the steady state of a long-running VMM.
        List<Map<String, Object>> warm = scans.stream().map(s -> {
            Map<String, Object> w = new LinkedHashMap<>(s);
            w.put("mb_per_s", s.get("warm_mb_per_s"));
            return w;
        }).toList();
        row(set, "vmguard*", out.get("load_seconds").asDouble(), run.rssKb(), warm);
        return r;
    }

    /**
     * One corpus scanned by a tool that loads its database on every run (clamscan, yara): the scan's time is
     * the run's less that of a run on a tiny file, and below 50 ms that difference is noise, not a rate.
     */
    private Map<String, Object> scanAfterLoad(String engine, SignatureSet set, Path corpus, Run run, boolean succeeded,
                                              Run load) throws Exception {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("corpus", corpusName(corpus));
        if (!succeeded) {
            s.put("error", run.problem());
            return s;
        }
        double scan = run.seconds() - load.seconds();
        s.put("matches", matches(engineOf(run), run));
        if (scan < 0.05) {
            s.put("error", "scan below resolution (" + round(scan) + " s after the load)");
            return s;
        }
        s.put("run_seconds", round(run.seconds()));
        s.put("scan_seconds", round(scan));
        s.put("mb_per_s", rate(Files.size(corpus), scan));
        s.put("rss_mb", run.rssKb() / 1024);
        mbps.put(set.name() + "/" + corpusName(corpus) + "/" + engine, rate(Files.size(corpus), scan));
        return s;
    }

    private Map<String, Object> clamscan(SignatureSet set, List<Path> corpora, Path tiny) throws Exception {
        Map<String, Object> r = new LinkedHashMap<>();
        progress("clamscan %s: load (on a 3-byte file) ...", set.name());
        Run load = run(List.of("clamscan", "--no-summary", "-d", set.ndb().toString(), tiny.toString()));
        if (!load.ok()) {
            r.put("error", load.problem());
            return r;
        }
        r.put("load_seconds", round(load.seconds()));
        r.put("load_rss_mb", load.rssKb() / 1024);
        List<Map<String, Object>> scans = new ArrayList<>();
        long rss = load.rssKb();
        for (Path corpus : corpora) {
            progress("clamscan %s: scanning %s (%d MB) ...", set.name(), corpusName(corpus), Files.size(corpus) >> 20);
            Run run = run(List.of("clamscan", "--no-summary", "-z", "--disable-cache", "--max-filesize=4000M",
                    "--max-scansize=4000M", "-d", set.ndb().toString(), corpus.toString()));
            Map<String, Object> s = scanAfterLoad("clamscan", set, corpus, run, run.ok(), load);
            if (s.containsKey("mb_per_s")) {
                rss = Math.max(rss, run.rssKb());
            }
            scans.add(s);
        }
        r.put("scans", scans);
        r.put("rss_mb", rss / 1024);
        row(set, "clamscan", load.seconds(), rss, scans);
        return r;
    }

    private Map<String, Object> yara(SignatureSet set, List<Path> corpora, Path tiny) throws Exception {
        Map<String, Object> r = new LinkedHashMap<>();
        Path compiled = work.resolve(set.name() + ".yarc");
        progress("yara %s: yarac of %d rules (%d signatures YARA 4.2 cannot express left out) ...", set.name(),
                set.count() - set.yaraSkipped(), set.yaraSkipped());
        Run compile = run(List.of("yarac", set.yara().toString(), compiled.toString()));
        r.put("rules", set.count() - set.yaraSkipped());
        if (set.yaraSkipped() > 0) {
            notes.add(String.format("yara %s: %d of %d signatures as rules; %d negations !(..) do not convert to YARA 4.2",
                    set.name(), set.count() - set.yaraSkipped(), set.count(), set.yaraSkipped()));
        }
        r.put("not_convertible", set.yaraSkipped());
        if (compile.status() != 0 || compile.timedOut()) {
            r.put("error", "yarac: " + compile.problem());
            return r;
        }
        r.put("compile_seconds", round(compile.seconds()));
        r.put("compile_rss_mb", compile.rssKb() / 1024);
        r.put("compile_warnings", compile.stderr().lines().filter(l -> l.contains("warning")).count());
        Run load = run(List.of("yara", "-C", compiled.toString(), tiny.toString()));
        if (!load.ok()) {
            r.put("error", "yara: " + load.problem());
            return r;
        }
        r.put("load_seconds", round(load.seconds()));
        List<Map<String, Object>> scans = new ArrayList<>();
        long rss = load.rssKb();
        for (Path corpus : corpora) {
            progress("yara %s: scanning %s ...", set.name(), corpusName(corpus));
            Run run = run(List.of("yara", "-C", compiled.toString(), corpus.toString()));
            Map<String, Object> s = scanAfterLoad("yara", set, corpus, run, run.status() == 0 && !run.timedOut(), load);
            if (s.containsKey("mb_per_s")) {
                rss = Math.max(rss, run.rssKb());
            }
            scans.add(s);
        }
        r.put("scans", scans);
        r.put("rss_mb", rss / 1024);
        row(set, "yara", compile.seconds() + load.seconds(), rss, scans);
        return r;
    }

    private Map<String, Object> hyperscan(SignatureSet set, List<Path> corpora) throws Exception {
        Map<String, Object> r = new LinkedHashMap<>();
        progress("hyperscan %s: compiling %d regexes (block mode; minutes for the wildcard set)%s, then scanning ...",
                set.name(), set.count() - set.hyperscanSkipped(),
                set.hyperscanSkipped() == 0 ? "" : ", " + set.hyperscanSkipped() + " {n>=128} signatures left out");
        r.put("left_out", set.hyperscanSkipped());
        if (set.hyperscanSkipped() > 0) {
            notes.add(String.format("hyperscan %s: %d {n>=128} signatures left out (its compiler takes far too long on them)",
                    set.name(), set.hyperscanSkipped()));
        }
        List<String> command = new ArrayList<>(List.of(harness.toString(), set.hyperscan().toString(), "3"));
        corpora.forEach(c -> command.add(c.toString()));
        Run run = run(command, true);
        if (run.status() != 0 || run.timedOut()) {
            r.put("error", run.problem());
            return r;
        }
        JsonNode out = new ObjectMapper().readTree(run.stdout());
        double compile = out.get("compile_seconds").asDouble();
        r.put("compile_seconds", compile);
        r.put("database_bytes", out.get("database_bytes").asLong());
        r.put("patterns", out.get("patterns").asInt());
        r.put("skipped", out.get("skipped").asInt());
        r.put("rss_mb", run.rssKb() / 1024);
        List<Map<String, Object>> scans = new ArrayList<>();
        for (JsonNode scan : out.get("scans")) {
            Map<String, Object> s = new LinkedHashMap<>();
            long bytes = scan.get("bytes").asLong();
            double seconds = Math.max(scan.get("seconds").asDouble(), 1e-6);
            s.put("corpus", corpusName(Path.of(scan.get("file").asText())));
            s.put("scan_seconds", seconds);
            s.put("mb_per_s", rate(bytes, seconds));
            s.put("matches", scan.get("matches").asLong());
            scans.add(s);
            mbps.put(set.name() + "/" + s.get("corpus") + "/hyperscan", rate(bytes, seconds));
        }
        r.put("scans", scans);
        row(set, "hyperscan", compile, run.rssKb(), scans);
        return r;
    }

    private static String engineOf(Run run) {
        return run.stdout().contains(" FOUND") || run.stdout().contains(": OK") ? "clamscan" : "yara";
    }

    /** clamscan: distinct FOUND lines (with -z it may print one name more than once per file); yara: one line a rule. */
    private static long matches(String engine, Run run) {
        return engine.equals("clamscan") ? run.stdout().lines().filter(l -> l.endsWith(" FOUND")).distinct().count()
                : run.stdout().lines().filter(l -> !l.isBlank()).count();
    }

    // ---- processes ----

    private Run run(List<String> command) throws IOException, InterruptedException {
        return run(command, false);
    }

    /** Runs {@code command} under /usr/bin/time; {@code live}: its stderr lines are shown as progress too. */
    private Run run(List<String> command, boolean live) throws IOException, InterruptedException {
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Path rss = Files.createTempFile(work, "rss", ".txt");
        List<String> full = new ArrayList<>();
        if (haveTime) {
            full.addAll(List.of("/usr/bin/time", "-f", "%M", "-o", rss.toString()));
        }
        full.addAll(command);
        try {
            long started = System.nanoTime();
            ProcessBuilder builder = new ProcessBuilder(full).redirectOutput(out.toFile());
            Process p = (live ? builder : builder.redirectError(err.toFile())).start();
            Thread tee = live ? Thread.ofVirtual().start(() -> {
                try (var lines = p.errorReader().lines(); var sink = Files.newBufferedWriter(err)) {
                    for (String line : (Iterable<String>) lines::iterator) {
                        System.err.println("bench-av:     " + line);
                        sink.write(line);
                        sink.newLine();
                    }
                } catch (IOException e) {
                    // the stream ends with the process
                }
            }) : null;
            long peak = 0;
            boolean done = false;
            long deadline = started + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (!done && System.nanoTime() < deadline) {
                done = p.waitFor(50, TimeUnit.MILLISECONDS);
                if (!haveTime && !done) {
                    peak = Math.max(peak, vmHwmKb(p.pid()));
                }
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
                return new Run(seconds, -1, 0, "", "", true);
            }
            if (tee != null) {
                tee.join();
            }
            if (haveTime) {
                List<String> lines = Files.readAllLines(rss).stream().filter(l -> l.matches("\\d+")).toList();
                peak = lines.isEmpty() ? 0 : Long.parseLong(lines.getLast());
            }
            return new Run(seconds, p.exitValue(), peak, Files.readString(out, StandardCharsets.ISO_8859_1),
                    Files.readString(err, StandardCharsets.ISO_8859_1), false);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            Files.deleteIfExists(rss);
        }
    }

    private static long vmHwmKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone already: keep the last reading
        }
        return 0;
    }

    // ---- output ----

    private void row(SignatureSet set, String engine, double loadSeconds, long rssKb, List<Map<String, Object>> scans) {
        String[] r = {set.name(), engine, fmt(loadSeconds), Long.toString(rssKb / 1024), "-", "-", "-"};
        for (Map<String, Object> s : scans) {
            int column = "random".equals(s.get("corpus")) ? 4 : 5;
            r[column] = s.containsKey("mb_per_s") ? fmt((Double) s.get("mb_per_s"))
                    : String.valueOf(s.get("error")).startsWith("scan below") ? "too short" : "error";
        }
        r[6] = String.join("/", scans.stream().map(s -> String.valueOf(s.getOrDefault("matches", "-"))).toList());
        rows.add(r);
    }

    private void printTable(List<SignatureSet> sets, Set<String> engines) {
        System.out.printf("%-9s %-10s %12s %8s %12s %12s %10s%n", "set", "engine", "load/compile", "RSS MB",
                "random MB/s", "ELF MB/s", "matches");
        for (String[] r : rows) {
            System.out.printf("%-9s %-10s %11ss %8s %12s %12s %10s%n", (Object[]) r);
        }
        notes.forEach(n -> System.out.println("  " + n));
        System.out.println("  MB/s: 10^6 bytes per second of scan time, one thread; vmguard: first scan in a fresh JVM,"
                + " vmguard*: best of the two scans after it (JIT warm); clamscan and yara: run minus load on a 3-byte file; hyperscan: best of 3");
        if (!engines.contains("vmguard")) {
            return;
        }
        System.out.println();
        System.out.printf("%-9s %-7s %16s %16s %16s%n", "set", "corpus", "vmguard/clamscan", "vmguard/yara", "vmguard/hyperscan");
        Map<String, Object> ratios = new LinkedHashMap<>();
        for (SignatureSet set : sets) {
            for (String corpus : List.of("random", "elf")) {
                Double ours = mbps.get(set.name() + "/" + corpus + "/vmguard");
                String[] cells = new String[3];
                int i = 0;
                for (String other : List.of("clamscan", "yara", "hyperscan")) {
                    Double theirs = mbps.get(set.name() + "/" + corpus + "/" + other);
                    if (ours == null || theirs == null) {
                        cells[i++] = "-";
                    } else {
                        double ratio = ours / theirs;
                        cells[i++] = fmt(ratio) + "x";
                        ratios.put(set.name() + "/" + corpus + "/vmguard_over_" + other, round(ratio));
                    }
                }
                System.out.printf("%-9s %-7s %16s %16s %16s%n", set.name(), corpus, cells[0], cells[1], cells[2]);
            }
        }
        json.put("ratios", ratios);
    }

    private void progress(String format, Object... args) {
        String prefix = step == 0 ? "bench-av: " : String.format("bench-av [%d/%d]: ", step, steps);
        System.err.println(prefix + String.format(Locale.ROOT, format, args));
    }

    private String corpusName(Path corpus) {
        return corpus.getFileName().toString().replace(".bin", "");
    }

    private static double rate(long bytes, double seconds) {
        return round(bytes / 1e6 / seconds);
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private static String fmt(double v) {
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : v >= 10 ? String.format(Locale.ROOT, "%.1f", v)
                : String.format(Locale.ROOT, "%.2f", v);
    }
}
