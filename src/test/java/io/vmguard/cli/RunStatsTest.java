package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.net.NetCounters;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.vmm.RunOutcome;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class RunStatsTest {
    @Test
    void eachVirtioDeviceCountersAreInTheJsonForBenchmarksToProfile() throws Exception {
        Map<String, DeviceCounters> devices = new LinkedHashMap<>();
        devices.put("block0", new DeviceCounters(90, 68_161_536, 1, 59, 58, 124_007_457));
        devices.put("net0", DeviceCounters.ZERO);
        String json = new RunStats("interp", new RunOutcome.PoweredOff(0), 0, 2_000_000_000L, OptionalLong.of(100_000_000),
                3, 0, devices, Map.of(), Map.of()).toJson();
        JsonNode tree = new ObjectMapper().readTree(json);
        JsonNode block = tree.get("devices").get("block0");
        assertEquals(90, block.get("requests").asLong());
        assertEquals(68_161_536, block.get("bytes").asLong());
        assertEquals(1, block.get("errors").asLong());
        assertEquals(59, block.get("notifications").asLong());
        assertEquals(58, block.get("interrupts").asLong());
        assertEquals(124_007_457, block.get("service_nanos").asLong());
        assertEquals(0, tree.get("devices").get("net0").get("requests").asLong());
        assertEquals(50.0, tree.get("mips").asDouble(), "100 M instructions in 2 s");
        assertEquals(null, tree.get("net_backend"), "no card, no backend figures");
    }

    @Test
    void eachNetCardsBackendCountersIncludingItsWaitsForRoomAreInTheJson() throws Exception {
        String json = new RunStats("interp", new RunOutcome.PoweredOff(0), 0, 1_000_000_000L, OptionalLong.empty(), 0, 0,
                Map.of(), Map.of(), Map.of("net0", new NetCounters(12, 18_000, 1, 7, 500, 0, 3, 4_500_000))).toJson();
        JsonNode backend = new ObjectMapper().readTree(json).get("net_backend").get("net0");
        assertEquals(12, backend.get("txFrames").asLong());
        assertEquals(1, backend.get("txDropped").asLong());
        assertEquals(3, backend.get("txWaits").asLong());
        assertEquals(4_500_000, backend.get("txWaitNanos").asLong());
    }
}
