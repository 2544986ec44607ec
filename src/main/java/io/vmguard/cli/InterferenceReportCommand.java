package io.vmguard.cli;

import io.vmguard.interference.InterferencePlots;
import io.vmguard.interference.InterferenceReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vmguard interference-report}: the table, the JSON and the plots of a scripts/bench-interference run. */
@Command(name = "interference-report", mixinStandardHelpOptions = true,
        description = "Summarise a scripts/bench-interference run's scenario directories: print the table, write "
                + "interference.json and the plots (PNG and SVG).")
public final class InterferenceReportCommand implements Callable<Integer> {
    @Option(names = "--raw", paramLabel = "DIR", required = true, description = "the run's raw directory (order + one directory per scenario)")
    Path raw;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "where interference.json and the plots go")
    Path out;

    @Option(names = "--host", paramLabel = "KEY=VALUE", description = "a fact about the host for the JSON (cores, kernel, ...); repeatable")
    List<String> host = List.of();

    @Option(names = "--no-plots", description = "only the table and the JSON")
    boolean noPlots;

    @Override
    public Integer call() throws CliException {
        Map<String, String> facts = new LinkedHashMap<>();
        for (String fact : host) {
            int equals = fact.indexOf('=');
            if (equals < 1 || fact.length() > 300) {
                throw new CliException("--host takes KEY=VALUE, not '" + (fact.length() > 40 ? fact.substring(0, 40) + "..." : fact) + "'");
            }
            facts.put(fact.substring(0, equals), fact.substring(equals + 1));
        }
        try {
            InterferenceReport report = InterferenceReport.read(raw);
            Files.createDirectories(out);
            Files.writeString(out.resolve("interference.json"), report.toJson(facts).toPrettyString() + "\n");
            System.out.print(report.summary());
            if (!noPlots) {
                for (Path file : InterferencePlots.write(report, out)) {
                    System.out.println("wrote " + file + " (" + Files.size(file) + " bytes)");
                }
            }
        } catch (IOException e) {
            throw new CliException("interference-report: " + e.getMessage());
        }
        return 0;
    }
}
