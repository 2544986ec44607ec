package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
                3, 0, devices, Map.of()).toJson();
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
    }
}
