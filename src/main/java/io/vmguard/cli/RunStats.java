package io.vmguard.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.net.FrameLatency;
import io.vmguard.net.NetCounters;
import io.vmguard.vmm.RunOutcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalLong;

/**
 * What a run cost, written as one JSON object for scripts and benchmarks ({@code vmguard run --stats FILE}):
 * engine, how it ended, wall time, guest instructions where the engine counts them, the lines the guest
 * caused in the rate-limited guest log (printed and suppressed), each virtio device's counters (requests,
 * bytes, kicks, interrupts, host time serving requests): where an I/O benchmark's time goes, and each
 * virtio-net card's own latency figures (arrival to guest, kick to wire, in nanoseconds; notifications and
 * interrupts) and its backend's counters (frames and drops each way, frames that waited for room in the peer's
 * queue and how long).
 */
record RunStats(String engine, RunOutcome outcome, int exitStatus, long wallNanos, OptionalLong instructions,
                long guestLogLines, long guestLogSuppressed, Map<String, DeviceCounters> devices,
                Map<String, FrameLatency.Snapshot> netLatency, Map<String, NetCounters> netBackends) {
    private static final ObjectMapper JSON = new ObjectMapper();

    String toJson() {
        String outcomeName = switch (outcome) {
            case RunOutcome.PoweredOff off -> "powered-off";
            case RunOutcome.Reset reset -> "reset";
            case RunOutcome.Failed failed -> "failed";
        };
        double seconds = wallNanos / 1e9;
        ObjectNode json = JSON.createObjectNode();
        json.put("engine", engine);
        json.put("outcome", outcomeName);
        json.put("exit_status", exitStatus);
        json.put("wall_seconds", Math.round(seconds * 1000) / 1000.0);
        if (instructions.isPresent()) {
            json.put("instructions", instructions.getAsLong());
            json.put("mips", seconds > 0 ? Math.round(instructions.getAsLong() / seconds / 1e4) / 100.0 : 0);
        } else {
            json.putNull("instructions");
            json.putNull("mips");
        }
        ObjectNode log = json.putObject("guest_log");
        log.put("printed", guestLogLines);
        log.put("suppressed", guestLogSuppressed);
        ObjectNode devicesJson = json.putObject("devices");
        devices.forEach((name, counters) -> devicesJson.putObject(name)
                .put("requests", counters.requests())
                .put("bytes", counters.bytes())
                .put("errors", counters.errors())
                .put("notifications", counters.notifications())
                .put("interrupts", counters.interrupts())
                .put("service_nanos", counters.serviceNanos()));
        if (!netLatency.isEmpty()) {
            json.set("net_latency", JSON.valueToTree(netLatency));
        }
        if (!netBackends.isEmpty()) {
            json.set("net_backend", JSON.valueToTree(netBackends));
        }
        return json + "\n";
    }

    void writeTo(Path file) throws CliException {
        try {
            Files.writeString(file, toJson());
        } catch (IOException e) {
            throw new CliException("cannot write stats to " + file + ": " + e.getMessage());
        }
    }
}
