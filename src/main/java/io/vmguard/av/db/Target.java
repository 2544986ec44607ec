package io.vmguard.av.db;

/**
 * The file types a signature can be aimed at that vmguard scans: ClamAV target types 0 (any), 1 (PE), 6 (ELF)
 * and 9 (Mach-O). The others need ClamAV's normalisers or format parsers (HTML and ASCII text are matched
 * after normalisation, mail after decoding, OLE2/PDF/SWF/Java inside their containers): signatures for them are
 * skipped and reported, not matched against raw bytes where they would mean something else.
 */
public enum Target {
    ANY(0), PE(1), ELF(6), MACH_O(9);

    /** ClamAV's CLI_MTARGETS: targets from here on are skipped silently by ClamAV, and so by vmguard. */
    public static final int CLAMAV_TARGETS = 15;

    public final int code;

    Target(int code) {
        this.code = code;
    }

    /** Whether EP/S/SE/SL offsets and EntryPoint/NumberOfSections make sense: an executable format. */
    public boolean executable() {
        return this != ANY;
    }

    /** The vmguard target for a ClamAV code below {@link #CLAMAV_TARGETS}, or null when it is not supported. */
    public static Target of(int code) {
        for (Target t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }

    /** Why a ClamAV target code is not scanned, for the summary problem. */
    public static String unsupportedReason(int code) {
        String name = switch (code) {
            case 2 -> "OLE2";
            case 3 -> "normalised HTML";
            case 4 -> "mail";
            case 5 -> "graphics";
            case 7 -> "normalised ASCII text";
            case 8 -> "unused";
            case 10 -> "PDF";
            case 11 -> "Flash";
            case 12 -> "Java class";
            case 13 -> "internal";
            case 14 -> "other";
            default -> "unknown";
        };
        return "target type " + code + " (" + name + ") is not supported";
    }
}
