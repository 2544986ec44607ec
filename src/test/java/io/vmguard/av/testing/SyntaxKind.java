package io.vmguard.av.testing;

/** The 13 body-signature syntax kinds the generator cycles through (av.md §4.3), with a tag for names. */
public enum SyntaxKind {
    LITERAL("Lit"),
    ANY_BYTE("Any"),
    NIBBLE("Nib"),
    RANGE_GAP("Range"),
    UP_TO_GAP("UpTo"),
    AT_LEAST_GAP("AtLeast"),
    STAR("Star"),
    ALT_BYTE("AltByte"),
    ALT_STRING("AltStr"),
    NEGATION("Not"),
    BRACKET("Bracket"),
    LONG_GAP("LongGap"),
    SHORT_GAP("ShortGap");

    public final String tag;

    SyntaxKind(String tag) {
        this.tag = tag;
    }
}
