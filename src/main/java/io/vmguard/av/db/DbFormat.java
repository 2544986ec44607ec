package io.vmguard.av.db;

import java.util.Locale;
import java.util.Set;

/** What a database file holds, from its extension (compared without case, as ClamAV does). */
public enum DbFormat {
    /** .hdb .hsb .hdu .hsu: whole-file hashes. */
    FILE_HASH,
    /** .mdb .msb .mdu .msu: PE section hashes, size first. */
    SECTION_HASH,
    /** .ndb .ndu: extended body signatures. */
    BODY,
    /** .ldb .ldu: logical signatures. */
    LOGICAL,
    /** .fp .sfp: allow lists, in whole-file hash format. */
    ALLOW,
    /** .ign2 .ign: signatures to drop. */
    IGNORE,
    /** .cvd .cld .cud: containers of the above. */
    CONTAINER,
    /** ClamAV formats vmguard does not use (bytecode, phishing, container metadata, YARA...). */
    NOT_USED,
    /** Anything else: not a database. */
    UNKNOWN;

    private static final Set<String> NOT_USED_EXTENSIONS = Set.of("cdb", "cbc", "pdb", "gdb", "wdb", "ftm", "cfg", "crb",
            "cat", "info", "pwdb", "yar", "yara", "idb", "imp", "ioc", "pua");

    /**
     * Whether the file holds PUA signatures (potentially unwanted applications: .hdu .hsu .mdu .msu .ndu .ldu),
     * which clamscan loads only with {@code --detect-pua}.
     */
    public static boolean isPua(String fileName) {
        String lower = fileName.toLowerCase(Locale.ROOT);
        return Set.of("hdu", "hsu", "mdu", "msu", "ndu", "ldu").contains(lower.substring(lower.lastIndexOf('.') + 1));
    }

    public static DbFormat of(String fileName) {
        int dot = fileName.lastIndexOf('.');
        String extension = dot < 0 ? "" : fileName.substring(dot + 1).toLowerCase(Locale.ROOT);
        return switch (extension) {
            case "hdb", "hsb", "hdu", "hsu" -> FILE_HASH;
            case "mdb", "msb", "mdu", "msu" -> SECTION_HASH;
            case "ndb", "ndu" -> BODY;
            case "ldb", "ldu" -> LOGICAL;
            case "fp", "sfp" -> ALLOW;
            case "ign", "ign2" -> IGNORE;
            case "cvd", "cld", "cud" -> CONTAINER;
            default -> NOT_USED_EXTENSIONS.contains(extension) ? NOT_USED : UNKNOWN;
        };
    }
}
