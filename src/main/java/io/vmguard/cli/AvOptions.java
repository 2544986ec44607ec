package io.vmguard.cli;

import io.vmguard.av.LoadProblem;
import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.runtime.RuntimeAction;
import io.vmguard.vmm.AntivirusSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;

/** How {@code run} and {@code serve} scan their guest's code: the signature database and the action on a match. */
public final class AvOptions {
    /** Load problems printed one per line before the rest are only counted. */
    private static final int PROBLEMS_SHOWN = 5;

    @Option(names = "--av-db", paramLabel = "PATH",
            description = "scan every guest code page before it runs with these ClamAV databases (a directory, or "
                    + ".ndb/.ldb/.hdb/.cvd/... files; repeatable). Without it nothing is scanned")
    List<Path> databases = new ArrayList<>();

    @Option(names = "--av-action", paramLabel = "alert|block|pause", defaultValue = "alert",
            description = "on a match: alert only; block (user code does not run and the guest kernel ends the "
                    + "process; kernel code pauses the VM); or pause the VM (default ${DEFAULT-VALUE})")
    String action;

    AntivirusSettings settings() throws CliException {
        RuntimeAction onMatch = switch (action.toLowerCase(Locale.ROOT)) {
            case "alert" -> RuntimeAction.ALERT;
            case "block" -> RuntimeAction.BLOCK;
            case "pause" -> RuntimeAction.PAUSE;
            default -> throw new CliException("--av-action must be alert, block or pause, not '" + action + "'");
        };
        if (databases.isEmpty()) {
            return AntivirusSettings.off();
        }
        List<LoadProblem> problems = new ArrayList<>();
        SignatureDatabase database;
        try {
            database = SignatureDatabase.load(databases, problems::add);
        } catch (IOException e) {
            throw new CliException("cannot load the antivirus database: " + e.getMessage());
        }
        for (LoadProblem problem : problems.subList(0, Math.min(PROBLEMS_SHOWN, problems.size()))) {
            System.err.println("vmguard: " + problem.file() + (problem.line() > 0 ? ":" + problem.line() : "") + ": "
                    + problem.message());
        }
        if (problems.size() > PROBLEMS_SHOWN) {
            System.err.println("vmguard: ... and " + (problems.size() - PROBLEMS_SHOWN) + " more database problems");
        }
        if (database.signatureCount() == 0) {
            throw new CliException("the antivirus database has no usable signatures (" + databases + ")");
        }
        return AntivirusSettings.scanning(database, onMatch);
    }
}
