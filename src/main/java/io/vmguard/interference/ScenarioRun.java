package io.vmguard.interference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

/**
 * One scenario of scripts/bench-interference as it left its files in a directory: {@code scenario.properties}
 * (name, description, neighbours, kind, mitigation, the host's load before and after), {@code a.log} (the
 * measured VM's console), {@code a.json} (its --stats: vmguard's own latency counters), {@code sched.json}
 * (vmguard sched-sample over the measuring window: every VM's threads).
 */
public record ScenarioRun(String name, String description, int neighbours, String kind, String mitigation, String loadBefore,
        String loadAfter, ClientLog log, JsonNode vmmLatency, JsonNode sched) {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Larger files than this are not a scenario's (a runaway console): read no further. */
    private static final long MAX_FILE = 64L << 20;

    public static ScenarioRun read(Path dir) throws IOException {
        Properties meta = new Properties();
        try (Reader in = Files.newBufferedReader(dir.resolve("scenario.properties"))) {
            meta.load(in);
        }
        int neighbours;
        try {
            neighbours = Integer.parseInt(meta.getProperty("neighbours", "0").strip());
        } catch (NumberFormatException e) {
            throw new IOException(dir.resolve("scenario.properties") + ": neighbours is not a number");
        }
        List<String> console = bounded(dir.resolve("a.log")) ? Files.readAllLines(dir.resolve("a.log"),
                java.nio.charset.StandardCharsets.ISO_8859_1) : List.of();
        return new ScenarioRun(meta.getProperty("name", dir.getFileName().toString()), meta.getProperty("description", ""),
                neighbours, meta.getProperty("kind", "alone"), meta.getProperty("mitigation", "none"),
                meta.getProperty("load_before", ""), meta.getProperty("load_after", ""), ClientLog.parse(console),
                json(dir.resolve("a.json")).path("net_latency"), json(dir.resolve("sched.json")).path("processes"));
    }

    private static boolean bounded(Path file) throws IOException {
        return Files.isRegularFile(file) && Files.size(file) <= MAX_FILE;
    }

    private static JsonNode json(Path file) throws IOException {
        if (!bounded(file)) {
            return MissingNode.getInstance();
        }
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            return MissingNode.getInstance(); // a run that died before writing it whole
        }
    }

    public Figures rtt() {
        return Figures.of(log.allRtts());
    }

    /** The spread of the rounds' median RTTs: how much the median moved from round to round. */
    public Figures rttRoundMedians() {
        return Figures.of(log.rounds().stream().filter(r -> !r.rttMs().isEmpty()).map(r -> Figures.of(r.rttMs()).median()).toList());
    }

    public Figures tcp() {
        return Figures.of(log.rounds().stream().flatMap(r -> r.tcpMBs().stream()).toList());
    }

    public Figures rrTps() {
        return Figures.of(log.rounds().stream().flatMap(r -> r.rrTps().stream()).toList());
    }

    public Figures rrMedianUs() {
        return Figures.of(log.rounds().stream().flatMap(r -> r.rrMedianUs().stream()).toList());
    }

    /** Milliseconds of run-queue wait per second of the window, for process {@code process}'s threads of {@code role}. */
    public double waitMsPerSecond(String process, String role) {
        JsonNode p = sched.path(process);
        double seconds = p.path("seconds").asDouble(0);
        JsonNode r = p.path("by_role").path(role);
        return seconds > 0 && !r.isMissingNode() ? r.path("wait_ms").asDouble() / seconds : 0;
    }
}
