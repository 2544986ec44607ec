package io.vmguard.av.db;

import java.util.List;

/**
 * One line of a hash database: {@code Hash:Size:Name[:MinFL[:MaxFL]]} for whole files (.hdb .hsb .hdu .hsu .fp
 * .sfp), {@code Size:Hash:Name[:MinFL[:MaxFL]]} for PE sections (.mdb .msb .mdu .msu). The rules are
 * cli_loadhash's: 3 to 5 fields, a size of 1 to 2^32-2 or {@code *} (which needs MinFL >= 73), the hash type from
 * the number of hex digits.
 */
final class HashLineParser {
    private HashLineParser() {
    }

    /** The signature, or null when its functionality-level range excludes this engine. */
    static HashSignature parse(String line, boolean sizeFirst, String database) throws LineRejected.Malformed {
        List<String> f = Fields.split(line, ':');
        if (f.size() < 3 || f.size() > 5) {
            throw LineRejected.malformed("expected " + (sizeFirst ? "Size:Hash:Name" : "Hash:Size:Name")
                    + "[:MinFL[:MaxFL]], found " + f.size() + " fields");
        }
        long minimum = f.size() > 3 ? Fields.number(f.get(3), "MinFL") : -1;
        long maximum = f.size() > 4 ? Fields.number(f.get(4), "MaxFL") : -1;
        String sizeText = f.get(sizeFirst ? 0 : 1);
        String hashText = f.get(sizeFirst ? 1 : 0);
        long size;
        if (sizeText.equals("*")) {
            if (minimum < FunctionalityLevel.WILDCARD_SIZE) {
                throw LineRejected.malformed("size '*' needs a MinFL field of at least " + FunctionalityLevel.WILDCARD_SIZE);
            }
            size = HashSignature.ANY_SIZE;
        } else {
            size = Fields.number(sizeText, "the size");
            if (size == 0 || size >= 0xffffffffL) {
                throw LineRejected.malformed("the size must be between 1 and 4294967294, or '*'");
            }
        }
        HashKind kind = HashKind.ofHexLength(hashText.length());
        if (kind == null || !Fields.isHex(hashText)) {
            throw LineRejected.malformed("the hash must be 32 (MD5), 40 (SHA1) or 64 (SHA256) hex digits: '"
                    + Fields.shorten(hashText) + "'");
        }
        String name = f.get(2);
        if (name.isEmpty()) {
            throw LineRejected.malformed("empty signature name");
        }
        if (!FunctionalityLevel.admits(minimum, maximum)) {
            return null;
        }
        return new HashSignature(kind, Fields.hex(hashText), size, name, database);
    }
}
