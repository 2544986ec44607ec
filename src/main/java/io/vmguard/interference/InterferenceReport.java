package io.vmguard.interference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The interference benchmark's result from its scenarios (in the order file's order): medians and spreads,
 * ratios to the scenario named {@code alone}, the goal checked for each scenario, vmguard's own
 * latency counters and every VM's scheduling sample; as JSON and as a plain table.
 */
public record InterferenceReport(List<ScenarioRun> runs) {
    public static final String BASELINE = "alone";
    /** Goal of issue 17: median ping RTT within 2x of alone, TCP throughput at least 0.7 of alone. */
    public static final double RTT_GOAL = 2.0;
    public static final double TCP_GOAL = 0.7;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_SCENARIOS = 100;

    /** Reads {@code dir}/order (one scenario directory name a line) and each scenario's directory. */
    public static InterferenceReport read(Path dir) throws IOException {
        List<ScenarioRun> runs = new ArrayList<>();
        for (String name : Files.readAllLines(dir.resolve("order"))) {
            name = name.strip();
            if (name.isEmpty()) {
                continue;
            }
            if (!name.matches("[A-Za-z0-9_.-]+") || runs.size() >= MAX_SCENARIOS) {
                throw new IOException(dir.resolve("order") + ": '" + name + "' is not a scenario directory name (or too many)");
            }
            runs.add(ScenarioRun.read(dir.resolve(name)));
        }
        return new InterferenceReport(List.copyOf(runs));
    }

    public ScenarioRun baseline() {
        return runs.stream().filter(r -> r.name().equals(BASELINE)).findFirst().orElse(null);
    }

    static double ratio(double value, double base) {
        return base > 0 && !Double.isNaN(value) ? value / base : Double.NaN;
    }

    public ObjectNode toJson(Map<String, String> host) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode hostNode = root.putObject("host");
        host.forEach(hostNode::put);
        ObjectNode goal = root.putObject("goal");
        goal.put("ping_median_ratio_at_most", RTT_GOAL);
        goal.put("tcp_ratio_at_least", TCP_GOAL);
        ScenarioRun base = baseline();
        var scenarios = root.putArray("scenarios");
        for (ScenarioRun run : runs) {
            ObjectNode s = scenarios.addObject();
            s.put("name", run.name());
            s.put("description", run.description());
            s.put("kind", run.kind());
            s.put("neighbours", run.neighbours());
            s.put("mitigation", run.mitigation());
            s.put("load_before", run.loadBefore());
            s.put("load_after", run.loadAfter());
            s.put("complete", run.log().complete());
            s.put("rounds", run.log().rounds().size());
            ObjectNode ping = figures(s.putObject("ping_rtt_ms"), run.rtt());
            figures(ping.putObject("round_medians"), run.rttRoundMedians());
            figures(s.putObject("tcp_mb_s"), run.tcp());
            figures(s.putObject("rr_tps"), run.rrTps());
            figures(s.putObject("rr_median_us"), run.rrMedianUs());
            if (base != null) {
                ObjectNode ratios = s.putObject("ratio_to_alone");
                double rtt = ratio(run.rtt().median(), base.rtt().median());
                double tcp = ratio(run.tcp().median(), base.tcp().median());
                put(ratios, "ping_median", rtt);
                put(ratios, "tcp", tcp);
                put(ratios, "rr_tps", ratio(run.rrTps().median(), base.rrTps().median()));
                ObjectNode met = s.putObject("goal_met");
                met.put("ping", !Double.isNaN(rtt) && rtt <= RTT_GOAL);
                met.put("tcp", !Double.isNaN(tcp) && tcp >= TCP_GOAL);
            }
            s.set("vmm_latency", run.vmmLatency().isMissingNode() ? JSON.nullNode() : run.vmmLatency());
            s.set("sched", run.sched().isMissingNode() ? JSON.nullNode() : run.sched());
        }
        return root;
    }

    private static ObjectNode figures(ObjectNode node, Figures f) {
        node.put("count", f.count());
        put(node, "median", f.median());
        put(node, "min", f.min());
        put(node, "max", f.max());
        put(node, "p90", f.p90());
        put(node, "p99", f.p99());
        return node;
    }

    private static void put(ObjectNode node, String key, double value) {
        if (Double.isNaN(value)) {
            node.putNull(key);
        } else {
            node.put(key, Math.round(value * 1000) / 1000.0);
        }
    }

    /** The plain table: one line per scenario, then where A's threads waited. */
    public String summary() {
        StringBuilder out = new StringBuilder();
        ScenarioRun base = baseline();
        out.append(String.format(Locale.ROOT, "%-16s %5s | %-25s | %-20s | %-20s | %-9s | %s%n", "scenario", "load", "ping RTT ms median (p90) [rounds]",
                "TCP MB/s med [min-max]", "RR tps med [min-max]", "vs alone", "goal"));
        for (ScenarioRun run : runs) {
            Figures rtt = run.rtt();
            Figures rounds = run.rttRoundMedians();
            Figures tcp = run.tcp();
            Figures rr = run.rrTps();
            String vs = "";
            String goal = "";
            if (base != null && run != base) {
                double r = ratio(rtt.median(), base.rtt().median());
                double t = ratio(tcp.median(), base.tcp().median());
                vs = String.format(Locale.ROOT, "%.2fx %.2f", r, t);
                goal = (r <= RTT_GOAL ? "rtt ok" : "rtt NO") + ", " + (t >= TCP_GOAL ? "tcp ok" : "tcp NO");
            }
            out.append(String.format(Locale.ROOT, "%-16s %5s | %6.2f (%6.2f) [%5.2f-%5.2f] | %6.3f [%5.3f-%5.3f] | %6.1f [%6.1f-%6.1f] | %-9s | %s%n",
                    run.name(), firstLoad(run.loadBefore()), rtt.median(), rtt.p90(), rounds.min(), rounds.max(), tcp.median(), tcp.min(),
                    tcp.max(), rr.median(), rr.min(), rr.max(), vs, goal));
        }
        out.append(String.format(Locale.ROOT, "%nrun-queue wait of A's threads, ms per second (vcpu / io / other), and vmguard's own latency in A (net0):%n"));
        for (ScenarioRun run : runs) {
            JsonNode net = run.vmmLatency().path("net0");
            out.append(String.format(Locale.ROOT, "%-16s wait %6.1f / %6.1f / %6.1f | rx arrival->guest median %s p99 %s | tx kick->wire median %s p99 %s%n",
                    run.name(), run.waitMsPerSecond("a", "vcpu"), run.waitMsPerSecond("a", "io"), run.waitMsPerSecond("a", "other"),
                    micros(net.path("receive").path("medianNanos")), micros(net.path("receive").path("p99Nanos")),
                    micros(net.path("transmit").path("medianNanos")), micros(net.path("transmit").path("p99Nanos"))));
        }
        return out.toString();
    }

    private static String micros(JsonNode nanos) {
        return nanos.isNumber() ? String.format(Locale.ROOT, "%.0f us", nanos.asDouble() / 1000) : "-";
    }

    private static String firstLoad(String load) {
        Iterator<String> parts = List.of(load.strip().split("[ ,]+")).iterator();
        return parts.hasNext() ? parts.next() : "";
    }
}
