package io.vmguard.av.db;

import java.util.ArrayList;
import java.util.List;

/** Everything the loader kept, ready to be compiled for scanning. Names already carry {@code .UNOFFICIAL}. */
public final class DatabaseContents {
    public final HashTable.Builder fileHashes = new HashTable.Builder();
    public final HashTable.Builder sectionHashes = new HashTable.Builder();
    public final HashTable.Builder allowed = new HashTable.Builder();
    public final List<BodySignature> bodies = new ArrayList<>();
    public final List<LogicalSignature> logicals = new ArrayList<>();

    /** Detection signatures (allow-list entries are not signatures). */
    public int signatureCount() {
        return fileHashes.size() + sectionHashes.size() + bodies.size() + logicals.size();
    }
}
