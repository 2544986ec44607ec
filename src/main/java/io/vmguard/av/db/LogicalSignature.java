package io.vmguard.av.db;

import io.vmguard.av.match.BodyPattern;
import io.vmguard.av.match.OffsetRule;
import io.vmguard.av.match.PatternOptions;
import java.util.List;

/** A logical signature (.ldb/.ldu): body subsignatures whose match counts a logical expression combines. */
public record LogicalSignature(String name, TargetDescription description, LogicalExpression expression,
        List<Subsignature> subsignatures, String database) {
    public static final int MAX_SUBSIGNATURES = 64;

    public record Subsignature(OffsetRule offset, BodyPattern pattern, PatternOptions options) {
    }
}
