package io.vmguard.av.runtime;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Verdicts keyed by the content they were reached on, so each piece of code is scanned once however often
 * its frames are (re)executed, and by however many processes. The key is the SHA-256 of what was scanned: a
 * guest that could make its malicious code collide with clean code it had scanned before would skip the scan,
 * so a cryptographic hash, not a fast one. Bounded: the least recently used verdict goes first.
 */
final class ScanCache {
    /** What a scan found: nothing, or the signatures that matched the frame. */
    record Verdict(List<CodeMatch> matches) {
        static final Verdict CLEAN = new Verdict(List.of());

        boolean clean() {
            return matches.isEmpty();
        }
    }

    record Key(long a, long b, long c, long d) {}

    private final int capacity;
    private final Map<Key, Verdict> verdicts;
    private final MessageDigest sha256;

    ScanCache(int capacity) {
        this.capacity = capacity;
        this.verdicts = new LinkedHashMap<>(Math.min(capacity, 1 << 16), 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, Verdict> eldest) {
                return size() > ScanCache.this.capacity;
            }
        };
        try {
            this.sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    Key key(byte[] content, int length) {
        sha256.update(content, 0, length);
        byte[] digest = sha256.digest();
        return new Key(word(digest, 0), word(digest, 8), word(digest, 16), word(digest, 24));
    }

    Verdict get(Key key) {
        return verdicts.get(key);
    }

    void put(Key key, Verdict verdict) {
        verdicts.put(key, verdict);
    }

    int size() {
        return verdicts.size();
    }

    private static long word(byte[] bytes, int at) {
        long value = 0;
        for (int i = 0; i < 8; i++) {
            value = (value << 8) | (bytes[at + i] & 0xffL);
        }
        return value;
    }
}
