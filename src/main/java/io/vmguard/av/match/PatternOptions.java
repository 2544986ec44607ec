package io.vmguard.av.match;

/**
 * ClamAV's subsignature modifiers ({@code ::i}, {@code ::w}, {@code ::f}, {@code ::a}), applied as ClamAV applies them:
 * fullword wraps the body in {@code (W)...(W)}; wide puts a 00 after every byte of the body (gaps keep their
 * byte counts); ascii with wide also keeps the plain body, so either form matches; nocase lets every literal
 * ASCII letter match either case.
 */
public record PatternOptions(boolean nocase, boolean wide, boolean fullword, boolean ascii) {
    public static final PatternOptions NONE = new PatternOptions(false, false, false, false);

    /** Parses the letters after {@code ::} in an ldb subsignature ("i", "wa", "iwfa"...). */
    public static PatternOptions parse(String letters) throws PatternSyntaxException {
        boolean i = false, w = false, f = false, a = false;
        for (char c : letters.toCharArray()) {
            switch (c) {
                case 'i' -> i = true;
                case 'w' -> w = true;
                case 'f' -> f = true;
                case 'a' -> a = true;
                default -> throw new PatternSyntaxException("unknown subsignature modifier '" + c + "' (expected i, w, f or a)");
            }
        }
        return new PatternOptions(i, w, f, a);
    }
}
