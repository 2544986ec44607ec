package io.vmguard.av.match;

import java.util.List;

/**
 * Where a match may start: the offset field of ClamAV's ndb and ldb signatures. {@code shift} is ClamAV's
 * maxshift: the match starts anywhere in {@code [base, base + shift]}.
 */
public sealed interface OffsetRule {
    /** {@code *}: anywhere. */
    record Any() implements OffsetRule {}

    /** {@code n} or {@code n,shift}. */
    record Absolute(long offset, long shift) implements OffsetRule {}

    /** {@code EOF-n}: file size minus distance. */
    record FromEnd(long distance, long shift) implements OffsetRule {}

    /** {@code EP+n} / {@code EP-n}: the entry point (a file offset) plus delta. */
    record EntryPoint(long delta, long shift) implements OffsetRule {}

    /** {@code Sx+n}: the start of section x (counted from 0) plus delta. */
    record SectionStart(int section, long delta, long shift) implements OffsetRule {}

    /** {@code SEx}: anywhere inside section x. */
    record InSection(int section) implements OffsetRule {}

    /** {@code SL+n}: the start of the last section plus delta. */
    record LastSectionStart(long delta, long shift) implements OffsetRule {}

    OffsetRule ANY = new Any();

    /** Parses ClamAV's offset syntax: "*", "n", "n,m", "EOF-n", "EP+n", "EP-n,m", "S2+4", "SE1", "SL+0"... */
    static OffsetRule parse(String text) throws PatternSyntaxException {
        String t = text.trim();
        if (t.equals("*")) {
            return ANY;
        }
        long shift = 0;
        int comma = t.indexOf(',');
        if (comma >= 0) {
            shift = number(t.substring(comma + 1), text, "maxshift");
            t = t.substring(0, comma);
        }
        if (t.startsWith("EOF-")) {
            return new FromEnd(number(t.substring(4), text, "EOF distance"), shift);
        }
        if (t.startsWith("EP+") || t.startsWith("EP-")) {
            long n = number(t.substring(3), text, "entry-point delta");
            return new EntryPoint(t.charAt(2) == '-' ? -n : n, shift);
        }
        if (t.startsWith("SL+")) {
            return new LastSectionStart(number(t.substring(3), text, "section delta"), shift);
        }
        if (t.startsWith("SE")) {
            if (comma >= 0) {
                throw new PatternSyntaxException("offset '" + text + "': SE takes no maxshift");
            }
            return new InSection(section(t.substring(2), text));
        }
        if (t.startsWith("S")) {
            int plus = t.indexOf('+');
            if (plus < 0) {
                throw new PatternSyntaxException("offset '" + text + "': expected Sx+n");
            }
            return new SectionStart(section(t.substring(1, plus), text), number(t.substring(plus + 1), text, "section delta"), shift);
        }
        if (t.equals("VI") || t.startsWith("$")) {
            throw new PatternSyntaxException("offset '" + text + "' (VI/macro) is not supported");
        }
        return new Absolute(number(t, text, "offset"), shift);
    }

    /** True for the forms that need an executable's headers: EP, Sx, SEx, SL. */
    default boolean needsExecutableLayout() {
        return switch (this) {
            case Any a -> false;
            case Absolute a -> false;
            case FromEnd f -> false;
            case EntryPoint e -> true;
            case SectionStart s -> true;
            case InSection s -> true;
            case LastSectionStart s -> true;
        };
    }

    /**
     * The window of allowed match starts in this layout, {@code [first, last]}, or null when the rule cannot
     * apply (no entry point, no such section, an offset before the file).
     */
    default Window window(FileLayout layout) {
        long base;
        long shift;
        switch (this) {
            case Any a -> {
                return new Window(0, Math.max(0, layout.size() - 1));
            }
            case Absolute a -> {
                base = a.offset();
                shift = a.shift();
            }
            case FromEnd f -> {
                base = layout.size() - f.distance();
                shift = f.shift();
            }
            case EntryPoint e -> {
                if (layout.entryPoint() < 0) {
                    return null;
                }
                base = layout.entryPoint() + e.delta();
                shift = e.shift();
            }
            case SectionStart s -> {
                List<FileLayout.Section> secs = layout.sections();
                if (s.section() >= secs.size()) {
                    return null;
                }
                base = secs.get(s.section()).offset() + s.delta();
                shift = s.shift();
            }
            case InSection s -> {
                List<FileLayout.Section> secs = layout.sections();
                if (s.section() >= secs.size()) {
                    return null;
                }
                base = secs.get(s.section()).offset();
                shift = secs.get(s.section()).size();
            }
            case LastSectionStart s -> {
                List<FileLayout.Section> secs = layout.sections();
                if (secs.isEmpty()) {
                    return null;
                }
                base = secs.getLast().offset() + s.delta();
                shift = s.shift();
            }
        }
        if (base < 0 || base >= layout.size()) {
            return null;
        }
        return new Window(base, Math.min(layout.size() - 1, base + shift));
    }

    /** Inclusive range of allowed match starts. */
    record Window(long first, long last) {}

    private static long number(String s, String text, String what) throws PatternSyntaxException {
        if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new PatternSyntaxException("offset '" + text + "': bad " + what + " '" + s + "'");
        }
        return Long.parseLong(s);
    }

    private static int section(String s, String text) throws PatternSyntaxException {
        long n = number(s, text, "section number");
        if (n > 65535) {
            throw new PatternSyntaxException("offset '" + text + "': section number too large");
        }
        return (int) n;
    }
}
