package io.vmguard.av.db;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Signatures to drop (.ign2, legacy .ign): by name, or by name and the MD5 of the whole database line that
 * defines it, so that the entry stops applying once the signature is changed. Not thread-safe; used while
 * loading.
 */
public final class IgnoreList {
    private final Set<String> byName = new HashSet<>();
    private final Map<String, List<byte[]>> byLine = new HashMap<>();

    /** Parses one line: {@code SigName}, {@code SigName:md5}, or the old {@code db:line:SigName}. */
    void add(String line) throws LineRejected.Malformed {
        List<String> f = Fields.split(line, ':');
        String name;
        byte[] md5 = null;
        switch (f.size()) {
            case 1 -> name = f.get(0);
            case 2 -> {
                name = f.get(0);
                String hash = f.get(1);
                if (hash.length() != 32 || !Fields.isHex(hash)) {
                    throw LineRejected.malformed("the MD5 of the signature line must be 32 hex digits: '" + Fields.shorten(hash) + "'");
                }
                md5 = Fields.hex(hash);
            }
            case 3 -> name = f.get(2);
            default -> throw LineRejected.malformed("expected SigName or SigName:md5, found " + f.size() + " fields");
        }
        if (name.isEmpty()) {
            throw LineRejected.malformed("no signature name");
        }
        if (md5 == null) {
            byName.add(name);
        } else {
            byLine.computeIfAbsent(name, k -> new ArrayList<>()).add(md5);
        }
    }

    public boolean isEmpty() {
        return byName.isEmpty() && byLine.isEmpty();
    }

    /** Whether the signature called {@code name}, defined by database line {@code line}, is ignored. */
    public boolean drops(String signatureName, String line) {
        String name = normalise(signatureName);
        if (byName.contains(name)) {
            return true;
        }
        List<byte[]> digests = byLine.get(name);
        if (digests == null) {
            return false;
        }
        byte[] digest = md5(line);
        return digests.stream().anyMatch(d -> Arrays.equals(d, digest));
    }

    /** Whether the name is ignored whatever its line (entries loaded after the signature was). */
    public boolean dropsByName(String name) {
        return byName.contains(normalise(name));
    }

    /** cli_signorm: a signature's name is compared without a trailing ".{...}" clause or ".UNOFFICIAL". */
    static String normalise(String name) {
        if (name.length() > 3 && name.endsWith("}")) {
            int clause = name.indexOf(".{");
            return clause >= 0 ? name.substring(0, clause) : name;
        }
        return name.endsWith(".UNOFFICIAL") ? name.substring(0, name.length() - ".UNOFFICIAL".length()) : name;
    }

    private static byte[] md5(String line) {
        try {
            // Lines are read as ISO-8859-1, so this gives back the file's own bytes.
            return MessageDigest.getInstance("MD5").digest(line.getBytes(StandardCharsets.ISO_8859_1));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has MD5", e);
        }
    }
}
