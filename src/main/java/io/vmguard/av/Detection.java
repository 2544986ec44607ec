package io.vmguard.av;

/**
 * One signature that matched.
 *
 * @param name the signature's name as clamscan prints it ({@code .UNOFFICIAL} appended for unofficial databases)
 * @param offset where the match starts in the scanned object; -1 for whole-file and PE-section hashes
 * @param database the database file it came from, e.g. {@code x.ndb} or {@code main.cvd/main.ndb}
 * @param end      where a body match ends (exclusive); -1 for hashes and logical signatures
 */
public record Detection(String name, long offset, String database, long end) {
    /** A detection with no extent: a hash, or a logical signature. */
    public Detection(String name, long offset, String database) {
        this(name, offset, database, -1);
    }
}
