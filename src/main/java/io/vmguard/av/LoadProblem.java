package io.vmguard.av;

/**
 * Something wrong or left out while loading a signature database: a malformed line (skipped, the rest still
 * loads), a whole file that could not be used, or a note about signatures skipped as unsupported.
 *
 * @param file the database file, {@code container/member} for a member of a .cvd/.cld/.cud
 * @param line the 1-based line number; 0 when the problem concerns the whole file
 * @param message one line, no stack trace
 */
public record LoadProblem(String file, int line, String message) {
    @Override
    public String toString() {
        return line > 0 ? file + ":" + line + ": " + message : file + ": " + message;
    }
}
