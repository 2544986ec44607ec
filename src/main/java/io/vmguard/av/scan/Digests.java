package io.vmguard.av.scan;

import io.vmguard.av.db.HashKind;
import java.lang.foreign.MemorySegment;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;

/** The digests of a region, all computed in one pass over it. */
final class Digests {
    private static final long CHUNK = 1 << 20;

    private Digests() {
    }

    static Map<HashKind, byte[]> of(MemorySegment data, long offset, long length, Set<HashKind> kinds) {
        Map<HashKind, byte[]> result = new EnumMap<>(HashKind.class);
        if (kinds.isEmpty()) {
            return result;
        }
        Map<HashKind, MessageDigest> digests = new EnumMap<>(HashKind.class);
        try {
            for (HashKind kind : kinds) {
                digests.put(kind, MessageDigest.getInstance(kind.algorithm));
            }
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has MD5, SHA-1 and SHA-256", e);
        }
        for (long at = 0; at < length; at += CHUNK) {
            MemorySegment chunk = data.asSlice(offset + at, Math.min(CHUNK, length - at));
            for (MessageDigest digest : digests.values()) {
                digest.update(chunk.asByteBuffer());
            }
        }
        digests.forEach((kind, digest) -> result.put(kind, digest.digest()));
        return result;
    }
}
