package io.vmguard.iommu;

/**
 * The last few mappings one endpoint used, so a device working through a buffer does not search the domain
 * on every access.
 *
 * <p>Why this is safe without a lock of its own: it is read and filled only under {@link IommuDomains}'s
 * read lock, and cleared only under its write lock, by the request (UNMAP, DETACH, ATTACH elsewhere, reset)
 * that removes the mappings it might hold, before that request completes. So no access can find a mapping
 * here once the request that removed it has returned: an access that began before has ended (the write lock
 * waited for it), and one that begins after sees the cleared slots (the lock's release and acquire order
 * them). Readers may fill slots concurrently; a slot then holds whichever mapping came last, each of them
 * valid in that read-lock period (mappings are immutable records, safely published through final fields).
 */
final class TranslationCache {
    static final int SLOTS = 4;

    private final Mapping[] slots = new Mapping[SLOTS];
    private int next;

    /** A cached mapping covering {@code iova}, or null. Under the read lock. */
    Mapping lookup(long iova) {
        for (Mapping mapping : slots) {
            if (mapping != null && mapping.contains(iova)) {
                return mapping;
            }
        }
        return null;
    }

    /** Remembers {@code mapping}, replacing the oldest slot. Under the read lock. */
    void remember(Mapping mapping) {
        int slot = next;
        slots[slot & (SLOTS - 1)] = mapping;
        next = slot + 1;
    }

    /** Forgets everything. Under the write lock. */
    void clear() {
        java.util.Arrays.fill(slots, null);
    }

    /** How many slots hold a mapping (for tests). */
    int size() {
        int count = 0;
        for (Mapping mapping : slots) {
            count += mapping == null ? 0 : 1;
        }
        return count;
    }
}
