package io.vmguard.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.av.Detection;
import io.vmguard.av.LoadProblem;
import io.vmguard.av.Scanner;
import io.vmguard.av.SignatureDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * vmguard's side of scripts/bench-av, in a JVM of its own so its peak RSS is measured like the other engines':
 * loads one database, scans each corpus file (every match, as {@code clamscan -z}) once cold and twice more,
 * and prints one JSON object: load seconds, footprint, and per corpus the first and the best scan time.
 * Usage: {@code AvEngineRun DB CORPUS...}
 */
public final class AvEngineRun {
    private static final int ROUNDS = 3;

    private AvEngineRun() {}

    public static void main(String[] args) throws Exception {
        List<LoadProblem> problems = new ArrayList<>();
        long started = System.nanoTime();
        SignatureDatabase db = SignatureDatabase.load(List.of(Path.of(args[0])), problems::add);
        double load = (System.nanoTime() - started) / 1e9;
        Scanner scanner = new Scanner(db);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("load_seconds", load);
        out.put("signatures", db.signatureCount());
        out.put("footprint_bytes", db.footprintBytes());
        out.put("problems", problems.size());
        problems.stream().limit(3).forEach(p -> System.err.println("load problem: " + p));
        List<Map<String, Object>> scans = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            Path corpus = Path.of(args[i]);
            double first = 0;
            double best = Double.MAX_VALUE;
            int detections = 0;
            for (int round = 0; round < ROUNDS; round++) {
                long t = System.nanoTime();
                List<Detection> found = scanner.scanFile(corpus, true);
                double seconds = (System.nanoTime() - t) / 1e9;
                if (round == 0) {
                    first = seconds;
                }
                best = Math.min(best, seconds);
                detections = (int) found.stream().map(Detection::name).distinct().count();
            }
            System.err.printf("vmguard: %s scanned in %.3f s (best of %d: %.3f s)%n", corpus.getFileName(), first, ROUNDS, best);
            Map<String, Object> scan = new LinkedHashMap<>();
            scan.put("file", corpus.toString());
            scan.put("bytes", Files.size(corpus));
            scan.put("first_seconds", first);
            scan.put("best_seconds", best);
            scan.put("detections", detections);
            scans.add(scan);
        }
        out.put("scans", scans);
        System.out.println(new ObjectMapper().writeValueAsString(out));
    }
}
