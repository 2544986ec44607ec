package io.vmguard.av.match;

import java.util.OptionalLong;

/**
 * A ClamAV body signature (hex syntax): {@code ?? a? ?a * {n} {-n} {n-} {n-m} aa[x-y] (..|..) !(..|..) (B) (L) (W)}.
 * Parsing applies ClamAV's rules, so what ClamAV's loader rejects is rejected here with a one-line message.
 */
public final class BodyPattern {
    private final String source;
    private final Parser.Parsed parsed;

    private BodyPattern(String source, Parser.Parsed parsed) {
        this.source = source;
        this.parsed = parsed;
    }

    public static BodyPattern parse(String hex) throws PatternSyntaxException {
        if (hex == null) throw new PatternSyntaxException("no signature body");
        return new BodyPattern(hex, Parser.parse(hex, false, false, false));
    }

    public String source() {
        return source;
    }

    /** Number of parts (pieces separated by {@code *} and {@code {n-m}}-style gaps). */
    public int parts() {
        return parsed.parts().size();
    }

    public int minLength() {
        long n = 0;
        for (var part : parsed.parts()) n += Node.minLength(part);
        for (int g : parsed.gapMin()) n += g;
        return (int) Math.min(Integer.MAX_VALUE, n);
    }

    /** Empty when unbounded ({@code *} or {@code {n-}}). */
    public OptionalLong maxLength() {
        long n = 0;
        for (var part : parsed.parts()) n += Node.maxLength(part);
        for (int g : parsed.gapMax()) {
            if (g < 0) return OptionalLong.empty();
            n += g;
        }
        return OptionalLong.of(n);
    }

    /**
     * Checks that the pattern is still well formed under these options (ClamAV rewrites the body for
     * fullword and wide, and the rewrite can break a part, e.g. {@code aa[1-2]bbcc::f}). Call it before
     * {@link MultiMatcher.Builder#add}, which throws IllegalArgumentException on such a pattern.
     */
    public void checkOptions(PatternOptions o) throws PatternSyntaxException {
        if (o.wide()) variant(o.nocase(), true, o.fullword());
        if (!o.wide() || o.ascii()) variant(o.nocase(), false, o.fullword());
    }

    /** The parse with ClamAV's sigopt rewrites applied (nocase, wide, fullword). */
    Parser.Parsed variant(boolean nocase, boolean wide, boolean fullword) throws PatternSyntaxException {
        if (!nocase && !wide && !fullword) return parsed;
        return Parser.parse(source, nocase, wide, fullword);
    }

    @Override
    public String toString() {
        return source;
    }
}
