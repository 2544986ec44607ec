package io.vmguard.av.db;

/** Why one database line was not loaded. Checked: every parser's caller decides what to report. */
public abstract sealed class LineRejected extends Exception permits LineRejected.Malformed, LineRejected.Unsupported {
    LineRejected(String message) {
        super(message, null, false, false);
    }

    /** The line is wrong: reported with its line number. */
    public static final class Malformed extends LineRejected {
        public Malformed(String message) {
            super(message);
        }
    }

    /** The line is valid ClamAV but uses something vmguard does not match: counted, reported once per file. */
    public static final class Unsupported extends LineRejected {
        public Unsupported(String reason) {
            super(reason);
        }
    }

    static Malformed malformed(String message) {
        return new Malformed(message);
    }

    static Unsupported unsupported(String reason) {
        return new Unsupported(reason);
    }
}
