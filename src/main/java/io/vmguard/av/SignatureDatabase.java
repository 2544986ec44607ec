package io.vmguard.av;

import io.vmguard.av.db.DatabaseLoader;
import io.vmguard.av.scan.SignatureEngine;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * ClamAV signature databases, loaded and compiled for scanning: .hdb/.hsb (and .hdu/.hsu), .mdb/.msb, .ndb,
 * .ldb, the .fp/.sfp allow lists, .ign2/.ign ignore lists, and .cvd/.cld/.cud containers of them. What a
 * database holds that vmguard cannot use is reported as a {@link LoadProblem} and skipped; one bad line or
 * file never fails the load. Immutable once loaded; share one among threads.
 */
public final class SignatureDatabase {
    private final SignatureEngine engine;
    private final List<LoadProblem> problems;
    private final Duration loadTime;

    private SignatureDatabase(SignatureEngine engine, List<LoadProblem> problems, Duration loadTime) {
        this.engine = engine;
        this.problems = problems;
        this.loadTime = loadTime;
    }

    /**
     * Loads database files and directories (one level deep, as {@code clamscan -d}).
     *
     * @param problems told of each problem as it is found (may be null); {@link #problems()} keeps them all
     * @throws IOException when a named path does not exist or a directory cannot be listed
     */
    public static SignatureDatabase load(List<Path> pathsOrDirs, Consumer<LoadProblem> problems) throws IOException {
        return load(pathsOrDirs, problems, true);
    }

    /**
     * As {@link #load(List, Consumer)}; {@code pua} false leaves out the PUA databases (.hdu .hsu .mdu .msu .ndu
     * .ldu, potentially unwanted applications) as clamscan does unless given {@code --detect-pua}.
     */
    public static SignatureDatabase load(List<Path> pathsOrDirs, Consumer<LoadProblem> problems, boolean pua) throws IOException {
        long start = System.nanoTime();
        DatabaseLoader loader = new DatabaseLoader(problems, pua);
        loader.load(pathsOrDirs);
        SignatureEngine engine = new SignatureEngine(loader.contents());
        List<LoadProblem> all = new java.util.ArrayList<>(loader.problems());
        for (LoadProblem p : engine.problems()) {
            all.add(p);
            if (problems != null) {
                problems.accept(p);
            }
        }
        return new SignatureDatabase(engine, List.copyOf(all), Duration.ofNanos(System.nanoTime() - start));
    }

    /** Detection signatures loaded (allow-list entries and ignore entries not counted). */
    public int signatureCount() {
        return engine.signatureCount();
    }

    /** Estimated memory of the compiled signatures: matcher tables plus hash indexes. */
    public long footprintBytes() {
        return engine.footprintBytes();
    }

    /** Reading, parsing and compiling. */
    public Duration loadTime() {
        return loadTime;
    }

    public List<LoadProblem> problems() {
        return problems;
    }

    SignatureEngine engine() {
        return engine;
    }
}
