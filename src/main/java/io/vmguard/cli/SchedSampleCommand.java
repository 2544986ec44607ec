package io.vmguard.cli;

import io.vmguard.interference.SchedSampler;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vmguard sched-sample}: what the host scheduler did with each thread of some processes, until told to stop. */
@Command(name = "sched-sample", mixinStandardHelpOptions = true,
        description = "Sample the threads of processes (run time, run-queue wait, switches; by thread role) from now "
                + "until a stop file appears, and write the differences as JSON.")
public final class SchedSampleCommand implements Callable<Integer> {
    private static final int MAX_PROCESSES = 64;

    @Option(names = "--pid", paramLabel = "NAME=PID", required = true, description = "a process to sample, under NAME; repeatable")
    List<String> pids;

    @Option(names = "--stop-file", paramLabel = "FILE", required = true, description = "stop when this file exists")
    Path stopFile;

    @Option(names = "--max-seconds", paramLabel = "N", defaultValue = "3600", description = "stop after N seconds at most (default ${DEFAULT-VALUE})")
    int maxSeconds;

    @Option(names = "--out", paramLabel = "FILE", required = true, description = "where the JSON goes")
    Path out;

    @Override
    public Integer call() throws CliException {
        if (pids.size() > MAX_PROCESSES) {
            throw new CliException("--pid: at most " + MAX_PROCESSES + " processes");
        }
        if (maxSeconds < 1 || maxSeconds > 86_400) {
            throw new CliException("--max-seconds takes 1..86400, not " + maxSeconds);
        }
        Map<String, Long> byName = new LinkedHashMap<>();
        for (String spec : pids) {
            int equals = spec.indexOf('=');
            try {
                if (equals < 1) {
                    throw new NumberFormatException();
                }
                byName.put(spec.substring(0, equals), Long.parseLong(spec.substring(equals + 1)));
            } catch (NumberFormatException e) {
                throw new CliException("--pid takes NAME=PID, not '" + (spec.length() > 40 ? spec.substring(0, 40) + "..." : spec) + "'");
            }
        }
        try {
            SchedSampler.run(byName, stopFile, Duration.ofSeconds(maxSeconds), out);
        } catch (IOException e) {
            throw new CliException("sched-sample: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
        return 0;
    }
}
