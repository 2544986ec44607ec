package io.vmguard.cli;

import io.vmguard.vmm.RunOutcome;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * What a run cost, written as one JSON object for scripts and benchmarks ({@code vmguard run --stats FILE}):
 * engine, how it ended, wall time, and guest instructions where the engine counts them.
 */
record RunStats(String engine, RunOutcome outcome, int exitStatus, long wallNanos, OptionalLong instructions) {
    String toJson() {
        String outcomeName = switch (outcome) {
            case RunOutcome.PoweredOff off -> "powered-off";
            case RunOutcome.Reset reset -> "reset";
            case RunOutcome.Failed failed -> "failed";
        };
        double seconds = wallNanos / 1e9;
        String instructionsJson = instructions.isPresent() ? Long.toString(instructions.getAsLong()) : "null";
        String mips = instructions.isPresent() && seconds > 0
                ? String.format(java.util.Locale.ROOT, "%.2f", instructions.getAsLong() / seconds / 1e6) : "null";
        return String.format(java.util.Locale.ROOT,
                "{\"engine\":\"%s\",\"outcome\":\"%s\",\"exit_status\":%d,\"wall_seconds\":%.3f,\"instructions\":%s,\"mips\":%s}%n",
                engine, outcomeName, exitStatus, seconds, instructionsJson, mips);
    }

    void writeTo(Path file) throws CliException {
        try {
            Files.writeString(file, toJson());
        } catch (IOException e) {
            throw new CliException("cannot write stats to " + file + ": " + e.getMessage());
        }
    }
}
