package io.vmguard.av.db;

/**
 * The ClamAV functionality level (FLEVEL) vmguard's engine claims. Signatures carry MinFL/MaxFL (ndb, hash
 * databases) or {@code Engine:min-max} (ldb) and load only when this level lies in their range, so the set of
 * signatures loaded is the set ClamAV 1.4.6 (FLEVEL 216, the {@code clamscan} installed as the test oracle)
 * loads from the same files.
 */
public final class FunctionalityLevel {
    public static final int ENGINE = 216;

    /** Size {@code *} in hash signatures arrived with FLEVEL 73; older engines would misread such lines. */
    public static final int WILDCARD_SIZE = 73;

    /** Logical-signature attributes other than Target need {@code Engine:51-...} or more (ClamAV 0.96). */
    public static final int NEW_TDB_ATTRIBUTES = 51;

    private FunctionalityLevel() {
    }

    /** Whether a signature with these bounds (absent: -1) loads at this engine's level. */
    public static boolean admits(long minimum, long maximum) {
        return (minimum < 0 || minimum <= ENGINE) && (maximum < 0 || maximum >= ENGINE);
    }
}
