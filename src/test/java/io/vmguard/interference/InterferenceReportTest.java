package io.vmguard.interference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InterferenceReportTest {
    /** A console as interference-client prints it: rounds of pings, a TCP rate and a netrr line. */
    private static List<String> console(double rttMs, double tcp, double tps, int rounds) {
        List<String> lines = new ArrayList<>(List.of("booting ...", "64 bytes from 10.0.7.1: seq=0 ttl=64 time=99.000 ms", "IFX-START"));
        for (int r = 1; r <= rounds; r++) {
            lines.add("ifx-round: " + r);
            for (int i = 0; i < 10; i++) {
                lines.add("64 bytes from 10.0.7.1: seq=" + i + " ttl=64 time=" + (rttMs + i * rttMs / 10 + r * 0.01) + " ms");
            }
            lines.add("ifx-tcp: 262144 bytes in 0.50 s = " + (tcp + r * 0.01) + " MB/s");
            lines.add("netrr: 500 transactions in 2.001 s = " + (tps + r) + " tps, latency us min 900 median 1500 p99 9000 max 20000");
        }
        lines.add("IFX-END");
        return lines;
    }

    private static void scenario(Path raw, String name, String kind, int neighbours, String mitigation, List<String> console,
            double vcpuWaitMs) throws Exception {
        Path dir = Files.createDirectories(raw.resolve(name));
        Files.writeString(dir.resolve("scenario.properties"), "name=" + name + "\nkind=" + kind + "\nneighbours=" + neighbours
                + "\nmitigation=" + mitigation + "\ndescription=test\nload_before=1.00 0.50 0.25\nload_after=2.00 1.00 0.50\n");
        Files.write(dir.resolve("a.log"), console, StandardCharsets.ISO_8859_1);
        Files.writeString(dir.resolve("a.json"), "{\"engine\":\"interp\",\"net_latency\":{\"net0\":{\"receive\":{\"count\":10,"
                + "\"medianNanos\":120000,\"p99Nanos\":900000},\"transmit\":{\"count\":10,\"medianNanos\":30000,\"p99Nanos\":80000},"
                + "\"notifications\":20,\"interrupts\":30}}}");
        Files.writeString(dir.resolve("sched.json"), "{\"seconds\":10,\"processes\":{\"a\":{\"pid\":1,\"seconds\":10.0,\"by_role\":{"
                + "\"vcpu\":{\"run_ms\":900,\"wait_ms\":" + vcpuWaitMs + "},\"io\":{\"run_ms\":50,\"wait_ms\":20}}}}}");
        Files.writeString(raw.resolve("order"), Files.readString(raw.resolve("order")) + name + "\n");
    }

    private static Path raw(Path tmp) throws Exception {
        Path raw = Files.createDirectories(tmp.resolve("raw"));
        Files.writeString(raw.resolve("order"), "");
        scenario(raw, "alone", "alone", 0, "none", console(2.0, 0.50, 400, 3), 100);
        scenario(raw, "cpu1", "cpu", 1, "none", console(6.0, 0.30, 200, 3), 2500);
        scenario(raw, "cpu4-idle", "cpu", 4, "idle", console(3.0, 0.45, 350, 3), 300);
        return raw;
    }

    @Test
    void theConsoleIsReadRoundByRoundBetweenTheMarkers() {
        ClientLog log = ClientLog.parse(console(2.0, 0.5, 400, 2));
        assertTrue(log.complete());
        assertEquals(2, log.rounds().size());
        assertEquals(20, log.allRtts().size(), "the ping before IFX-START is not counted");
        assertEquals(List.of(0.51), log.rounds().getFirst().tcpMBs());
        assertEquals(List.of(401.0), log.rounds().getFirst().rrTps());
        assertEquals(List.of(1500.0), log.rounds().getFirst().rrMedianUs());
    }

    @Test
    void aConsoleCutShortIsIncompleteAndGarbledLinesAreSkipped() {
        List<String> lines = new ArrayList<>(console(2.0, 0.5, 400, 1));
        lines.removeLast();
        lines.add(3, "64 bytes from 10.0.7.1: seq=1 ttl=64 time=garbage ms");
        ClientLog log = ClientLog.parse(lines);
        assertFalse(log.complete());
        assertEquals(10, log.allRtts().size());
    }

    @Test
    void ratiosToAloneAndTheGoalAreInTheJson(@TempDir Path tmp) throws Exception {
        InterferenceReport report = InterferenceReport.read(raw(tmp));
        ObjectNode json = report.toJson(Map.of("cores", "2"));
        JsonNode cpu1 = json.path("scenarios").get(1);
        assertEquals("cpu1", cpu1.path("name").asText());
        double aloneMedian = json.path("scenarios").get(0).path("ping_rtt_ms").path("median").asDouble();
        assertEquals(cpu1.path("ping_rtt_ms").path("median").asDouble() / aloneMedian,
                cpu1.path("ratio_to_alone").path("ping_median").asDouble(), 0.01);
        assertFalse(cpu1.path("goal_met").path("ping").asBoolean(), "3x the alone RTT misses the 2x goal");
        assertFalse(cpu1.path("goal_met").path("tcp").asBoolean(), "0.6 of alone misses the 0.7 goal");
        JsonNode idle = json.path("scenarios").get(2);
        assertTrue(idle.path("goal_met").path("ping").asBoolean());
        assertTrue(idle.path("goal_met").path("tcp").asBoolean());
        assertEquals(3, idle.path("tcp_mb_s").path("count").asInt());
        assertEquals(120000, idle.path("vmm_latency").path("net0").path("receive").path("medianNanos").asInt());
        assertEquals(250.0, report.runs().get(1).waitMsPerSecond("a", "vcpu"), 1e-9);
        assertEquals("2", json.path("host").path("cores").asText());
    }

    @Test
    void theSummaryHasALinePerScenarioAndTheWaits(@TempDir Path tmp) throws Exception {
        String summary = InterferenceReport.read(raw(tmp)).summary();
        assertTrue(summary.lines().anyMatch(line -> line.startsWith("cpu1 ") && line.contains("rtt NO, tcp NO")), summary);
        assertTrue(summary.lines().anyMatch(line -> line.startsWith("cpu4-idle ") && line.contains("rtt ok, tcp ok")), summary);
        assertTrue(summary.contains("wait  250.0 /    2.0"), summary);
        assertTrue(summary.contains("rx arrival->guest median 120 us p99 900 us"), summary);
    }

    @Test
    void thePlotsAreWrittenAsPngAndSvgOfSaneSizes(@TempDir Path tmp) throws Exception {
        List<Path> files = InterferencePlots.write(InterferenceReport.read(raw(tmp)), tmp.resolve("plots"));
        assertEquals(8, files.size());
        for (Path file : files) {
            long size = Files.size(file);
            assertTrue(size > 5_000 && size < 2_000_000, file + " has " + size + " bytes");
            String name = file.getFileName().toString();
            if (name.endsWith(".png")) {
                byte[] head = Files.readAllBytes(file);
                assertEquals((byte) 0x89, head[0]);
                assertEquals('P', head[1]);
            } else {
                String svg = Files.readString(file);
                assertTrue(svg.contains("<svg xmlns="), name);
                String named = name.startsWith("vs-neighbours") ? "1 / median ping RTT"
                        : name.startsWith("mitigations") ? "goal: TCP"
                        : name.startsWith("runqueue-wait") ? "A io threads" : "cpu1";
                assertTrue(svg.contains(named), name + " names its series: " + named);
            }
        }
    }

    @Test
    void aBadOrderFileIsRefused(@TempDir Path tmp) throws Exception {
        Path raw = Files.createDirectories(tmp.resolve("raw"));
        Files.writeString(raw.resolve("order"), "../etc\n");
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> InterferenceReport.read(raw));
        assertTrue(e.getMessage().contains("'../etc' is not a scenario directory name"), e.getMessage());
    }

    @Test
    void figuresInterpolateBetweenRanks() {
        Figures f = Figures.of(List.of(4.0, 1.0, 3.0, 2.0));
        assertEquals(2.5, f.median(), 1e-9);
        assertEquals(1.0, f.min(), 1e-9);
        assertEquals(4.0, f.max(), 1e-9);
        assertEquals(0, Figures.of(List.of()).count());
    }
}
