package io.vmguard.arch.x86.acpi;

import java.util.ArrayList;
import java.util.List;

/**
 * An AML name (ACPI 6.5, 20.2.2): an optional root prefix {@code \} or parent prefixes {@code ^}, then
 * NameSegs separated by dots, as ASL writes them ({@code \_SB.PCI0}, {@code _HID}, {@code ^VR00}). Each
 * NameSeg is one to four characters, a letter or underscore first, then letters, digits or underscores;
 * shorter ones are padded with underscores, as ASL does.
 */
public record NameString(boolean root, int parents, List<String> segments) {
    private static final int ROOT_CHAR = '\\';
    private static final int PARENT_PREFIX = '^';
    private static final int DUAL_NAME_PREFIX = 0x2e;
    private static final int MULTI_NAME_PREFIX = 0x2f;
    private static final int NULL_NAME = 0x00;

    public NameString {
        segments = List.copyOf(segments);
        if (root && parents > 0) {
            throw new IllegalArgumentException("an AML name cannot start with both \\ and ^");
        }
        if (segments.size() > 255) {
            throw new IllegalArgumentException("an AML name has at most 255 segments");
        }
        for (String segment : segments) {
            checkSegment(segment);
        }
    }

    /** Parses ASL notation. */
    public static NameString of(String text) {
        String rest = text;
        boolean root = rest.startsWith("\\");
        if (root) {
            rest = rest.substring(1);
        }
        int parents = 0;
        while (rest.startsWith("^")) {
            parents++;
            rest = rest.substring(1);
        }
        List<String> segments = new ArrayList<>();
        if (!rest.isEmpty()) {
            for (String segment : rest.split("\\.", -1)) {
                if (segment.isEmpty() || segment.length() > 4) {
                    throw new IllegalArgumentException("bad AML name \"" + text + "\": segments are 1 to 4 characters");
                }
                segments.add((segment + "___").substring(0, 4));
            }
        }
        try {
            return new NameString(root, parents, segments);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad AML name \"" + text + "\": " + e.getMessage());
        }
    }

    private static void checkSegment(String segment) {
        if (segment.length() != 4) {
            throw new IllegalArgumentException("NameSeg \"" + segment + "\" is not 4 characters");
        }
        for (int i = 0; i < 4; i++) {
            char c = segment.charAt(i);
            boolean ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
            if (!ok) {
                throw new IllegalArgumentException("NameSeg \"" + segment + "\" has '" + c + "' at " + i
                        + " (A-Z, _ or, after the first, 0-9)");
            }
        }
    }

    void encode(ByteWriter out) {
        if (root) {
            out.u8(ROOT_CHAR);
        }
        for (int i = 0; i < parents; i++) {
            out.u8(PARENT_PREFIX);
        }
        switch (segments.size()) {
            case 0 -> out.u8(NULL_NAME);
            case 1 -> { }
            case 2 -> out.u8(DUAL_NAME_PREFIX);
            default -> out.u8(MULTI_NAME_PREFIX).u8(segments.size());
        }
        for (String segment : segments) {
            out.ascii(segment, 4);
        }
    }

    @Override
    public String toString() {
        return (root ? "\\" : "") + "^".repeat(parents) + String.join(".", segments);
    }
}
