package io.vmguard.interference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.testing.ProjectScript;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The interference benchmark's CI scenario, end to end: scripts/bench-interference --quick boots A and B alone,
 * then beside one CPU-bound neighbour, and its figures (ping, TCP, transactions, vmguard's own latency, every
 * VM's thread sample) land in the JSON, with the plots beside it.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class BenchInterferenceScriptTest {
    @Test
    void theQuickScenarioMeasuresANeighboursEffectAndWritesTheJsonAndThePlots(@TempDir Path out) throws Exception {
        ProjectScript.Result run = ProjectScript.run("bench-interference", "--quick", "--out", out.toString());
        String output = run.output();
        assertEquals(0, run.status(), output);

        JsonNode json = new ObjectMapper().readTree(out.resolve("interference.json").toFile());
        JsonNode scenarios = json.path("scenarios");
        assertEquals(2, scenarios.size(), output);
        for (JsonNode scenario : scenarios) {
            String name = scenario.path("name").asText();
            assertTrue(scenario.path("complete").asBoolean(), name);
            assertEquals(2, scenario.path("rounds").asInt(), name);
            assertTrue(scenario.path("ping_rtt_ms").path("count").asInt() >= 15, name + " pings: " + scenario.path("ping_rtt_ms"));
            assertTrue(scenario.path("ping_rtt_ms").path("median").asDouble() > 0, name);
            assertEquals(2, scenario.path("tcp_mb_s").path("count").asInt(), name);
            assertTrue(scenario.path("tcp_mb_s").path("median").asDouble() > 0, name);
            assertTrue(scenario.path("rr_tps").path("median").asDouble() > 0, name);
            JsonNode net = scenario.path("vmm_latency").path("net0");
            assertTrue(net.path("receive").path("count").asLong() > 0, name + ": " + net);
            assertTrue(net.path("transmit").path("count").asLong() > 0, name + ": " + net);
            assertTrue(net.path("interrupts").asLong() > 0, name + ": " + net);
            JsonNode a = scenario.path("sched").path("a").path("by_role");
            assertTrue(a.path("vcpu").path("run_ms").asDouble() > 0, name + ": " + a);
            assertTrue(a.path("io").path("timeslices").asLong() > 0, name + ": A's receive thread ran: " + a);
            assertTrue(scenario.path("ratio_to_alone").path("ping_median").isNumber(), name);
        }
        JsonNode neighbour = scenarios.get(1).path("sched").path("n1").path("by_role").path("vcpu");
        // The neighbour's vCPU is busy the whole window: a large share of a core, however loaded the host.
        assertTrue(neighbour.path("cpu_share").asDouble() > 0.2, "the neighbour's vCPU ran: " + neighbour);
        for (String plot : List.of("rtt-cdf", "vs-neighbours", "mitigations", "runqueue-wait")) {
            for (String ext : List.of(".png", ".svg")) {
                assertTrue(Files.size(out.resolve(plot + ext)) > 5_000, plot + ext);
            }
        }
        assertTrue(output.contains("alone ") && output.contains("cpu1 "), output);
    }
}
