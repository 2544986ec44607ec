package io.vmguard.av.scan;

import io.vmguard.av.db.HashKind;
import io.vmguard.av.db.HashSignature;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hash signatures by kind, size and digest. The size comes first: a scan asks which digests any signature of
 * this size (or of size {@code *}) needs and computes only those, usually none. Immutable once built.
 */
final class HashIndex {
    /** Rough bytes per entry for --stats: map nodes, the digest key and the signature record. */
    private static final long BYTES_PER_ENTRY = 160;

    private final Map<HashKind, Map<Long, Map<ByteBuffer, List<HashSignature>>>> bySize = new EnumMap<>(HashKind.class);
    private final Map<HashKind, Map<ByteBuffer, List<HashSignature>>> anySize = new EnumMap<>(HashKind.class);
    private final int count;

    HashIndex(List<HashSignature> signatures) {
        for (HashSignature s : signatures) {
            ByteBuffer key = ByteBuffer.wrap(s.digest());
            Map<ByteBuffer, List<HashSignature>> digests = s.size() == HashSignature.ANY_SIZE
                    ? anySize.computeIfAbsent(s.kind(), k -> new HashMap<>())
                    : bySize.computeIfAbsent(s.kind(), k -> new HashMap<>()).computeIfAbsent(s.size(), k -> new HashMap<>());
            digests.computeIfAbsent(key, k -> new ArrayList<>(1)).add(s);
        }
        count = signatures.size();
    }

    int size() {
        return count;
    }

    boolean isEmpty() {
        return count == 0;
    }

    long footprintBytes() {
        return count * BYTES_PER_ENTRY;
    }

    /** The digests worth computing for an object of this size. */
    Set<HashKind> kindsFor(long size) {
        Set<HashKind> kinds = EnumSet.noneOf(HashKind.class);
        for (HashKind kind : HashKind.values()) {
            Map<Long, Map<ByteBuffer, List<HashSignature>>> sizes = bySize.get(kind);
            if (anySize.containsKey(kind) || (sizes != null && sizes.containsKey(size))) {
                kinds.add(kind);
            }
        }
        return kinds;
    }

    /** Signatures matching this digest of an object of this size. */
    List<HashSignature> lookup(HashKind kind, long size, byte[] digest) {
        ByteBuffer key = ByteBuffer.wrap(digest);
        List<HashSignature> found = new ArrayList<>(0);
        Map<Long, Map<ByteBuffer, List<HashSignature>>> sizes = bySize.get(kind);
        if (sizes != null && sizes.containsKey(size)) {
            found.addAll(sizes.get(size).getOrDefault(key, List.of()));
        }
        Map<ByteBuffer, List<HashSignature>> any = anySize.get(kind);
        if (any != null) {
            found.addAll(any.getOrDefault(key, List.of()));
        }
        return found;
    }

    /** Every signature matching the object, given its digests. */
    List<HashSignature> lookup(long size, Map<HashKind, byte[]> digests) {
        List<HashSignature> found = new ArrayList<>(0);
        digests.forEach((kind, digest) -> found.addAll(lookup(kind, size, digest)));
        return found;
    }
}
