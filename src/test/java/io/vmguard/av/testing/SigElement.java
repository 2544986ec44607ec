package io.vmguard.av.testing;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One element of a generated ClamAV body signature, kept structured so the same signature can be written
 * as ClamAV hex (.ndb), as a YARA hex string and as a regular expression (Hyperscan, and java.util.regex
 * as the test's reference matcher over ISO-8859-1 text), and instantiated with its wildcards filled.
 */
public sealed interface SigElement {
    HexFormat HEX = HexFormat.of();

    /** ClamAV body syntax (av.md §1.4). */
    String clamHex();

    /** A regex fragment with {@code .} matching any byte (DOTALL), no look-around: Hyperscan accepts it too. */
    String regex();

    /** A YARA 4.2 hex-string fragment, or empty where YARA 4.2 has no equivalent. */
    Optional<String> yara();

    /** Whether ClamAV splits the signature into separate parts here (av.md §1.4: *, {n-m}, {-n}, {n-}, {n>=128}). */
    default boolean splits() {
        return false;
    }

    /** Fixed bytes. */
    record Bytes(byte[] value) implements SigElement {
        public String clamHex() {
            return HEX.formatHex(value);
        }

        public String regex() {
            return escape(value);
        }

        public Optional<String> yara() {
            List<String> out = new ArrayList<>();
            for (byte b : value) {
                out.add(HEX.toHexDigits(b));
            }
            return Optional.of(String.join(" ", out));
        }
    }

    /** {@code ??}. */
    record AnyByte() implements SigElement {
        public String clamHex() {
            return "??";
        }

        public String regex() {
            return ".";
        }

        public Optional<String> yara() {
            return Optional.of("??");
        }
    }

    /** {@code a?} (high nibble fixed) or {@code ?a} (low nibble fixed). */
    record Nibble(boolean highFixed, int nibble) implements SigElement {
        public String clamHex() {
            String digit = Integer.toHexString(nibble);
            return highFixed ? digit + "?" : "?" + digit;
        }

        public String regex() {
            if (highFixed) {
                return "[" + escape(nibble << 4) + "-" + escape(nibble << 4 | 0xf) + "]";
            }
            StringBuilder out = new StringBuilder("[");
            for (int high = 0; high < 16; high++) {
                out.append(escape(high << 4 | nibble));
            }
            return out.append(']').toString();
        }

        public Optional<String> yara() {
            return Optional.of(clamHex().toUpperCase());
        }

        public boolean accepts(int b) {
            return highFixed ? (b >>> 4) == nibble : (b & 0xf) == nibble;
        }
    }

    /** How a gap is written; ClamAV's routing and YARA's jumps depend on the form, not only the range. */
    enum GapForm { EXACT, UP_TO, AT_LEAST, RANGE, ANY }

    /** A gap of min..max bytes ({@code max} -1: unbounded). EXACT below 128 is rewritten to ?? by ClamAV. */
    record Gap(int min, int max, GapForm form) implements SigElement {
        public static Gap exact(int n) {
            return new Gap(n, n, GapForm.EXACT);
        }

        public static Gap upTo(int n) {
            return new Gap(0, n, GapForm.UP_TO);
        }

        public static Gap atLeast(int n) {
            return new Gap(n, -1, GapForm.AT_LEAST);
        }

        public static Gap range(int n, int m) {
            return new Gap(n, m, GapForm.RANGE);
        }

        public static Gap any() {
            return new Gap(0, -1, GapForm.ANY);
        }

        public String clamHex() {
            return switch (form) {
                case EXACT -> "{" + min + "}";
                case UP_TO -> "{-" + max + "}";
                case AT_LEAST -> "{" + min + "-}";
                case RANGE -> "{" + min + "-" + max + "}";
                case ANY -> "*";
            };
        }

        public String regex() {
            return switch (form) {
                case EXACT -> ".{" + min + "}";
                case UP_TO -> ".{0," + max + "}";
                case AT_LEAST -> ".{" + min + ",}";
                case RANGE -> ".{" + min + "," + max + "}";
                case ANY -> ".*";
            };
        }

        public Optional<String> yara() {
            return Optional.of(switch (form) {
                case EXACT -> "[" + min + "]";
                case UP_TO -> "[0-" + max + "]";
                case AT_LEAST -> "[" + min + "-]";
                case RANGE -> "[" + min + "-" + max + "]";
                case ANY -> "[-]";
            });
        }

        @Override
        public boolean splits() {
            return form != GapForm.EXACT || min >= 128;
        }
    }

    /** {@code (aa|bb)} / {@code (aabb|ccdd)}, or negated {@code !(...)}: one alternative of a fixed length. */
    record Alt(List<byte[]> options, boolean negated) implements SigElement {
        public int width() {
            return options.getFirst().length;
        }

        public boolean contains(byte[] candidate) {
            return options.stream().anyMatch(o -> java.util.Arrays.equals(o, candidate));
        }

        public String clamHex() {
            return (negated ? "!(" : "(") + String.join("|", options.stream().map(HEX::formatHex).toList()) + ")";
        }

        public String regex() {
            if (!negated) {
                if (width() == 1) {
                    StringBuilder out = new StringBuilder("[");
                    options.forEach(o -> out.append(escape(o)));
                    return out.append(']').toString();
                }
                return "(?:" + String.join("|", options.stream().map(SigElement::escape).toList()) + ")";
            }
            return complement(options, 0);
        }

        public Optional<String> yara() {
            if (!negated) {
                return Optional.of("(" + String.join(" | ", options.stream()
                        .map(o -> new Bytes(o).yara().orElseThrow()).toList()) + ")");
            }
            // YARA's ~ arrived in 4.3. Spelling a negated byte out as the other 255-k values exceeds YARA's
            // regexp limits ("regular expression is too complex"), so negations do not convert.
            return Optional.empty();
        }

        /** Regex for "width bytes, none of {@code set}" (all members of equal length), without look-around. */
        private static String complement(List<byte[]> set, int depth) {
            int remaining = set.getFirst().length - depth;
            TreeMap<Integer, List<byte[]>> byFirst = new TreeMap<>();
            for (byte[] s : set) {
                byFirst.computeIfAbsent(s[depth] & 0xff, k -> new ArrayList<>()).add(s);
            }
            List<String> branches = new ArrayList<>();
            StringBuilder other = new StringBuilder("[^");
            byFirst.keySet().forEach(b -> other.append(escape(b)));
            other.append(']');
            if (remaining > 1) {
                other.append(".{").append(remaining - 1).append('}');
            }
            branches.add(other.toString());
            if (remaining > 1) {
                byFirst.forEach((b, members) -> branches.add(escape(b) + complement(members, depth + 1)));
            }
            return branches.size() == 1 ? branches.getFirst() : "(?:" + String.join("|", branches) + ")";
        }
    }

    /** {@code [x-y]}: x..y bytes between a single byte and the rest (y <= 32, ClamAV's AC_CH_MAXDIST). */
    record Bracket(int min, int max) implements SigElement {
        public String clamHex() {
            return "[" + min + "-" + max + "]";
        }

        public String regex() {
            return ".{" + min + "," + max + "}";
        }

        public Optional<String> yara() {
            return Optional.of("[" + min + "-" + max + "]");
        }
    }

    static String escape(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        for (byte b : bytes) {
            out.append(escape(b & 0xff));
        }
        return out.toString();
    }

    static String escape(int b) {
        return "\\x" + HEX.toHexDigits((byte) b);
    }
}
