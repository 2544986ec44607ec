package io.vmguard.av.db;

import io.vmguard.av.match.BodyPattern;
import io.vmguard.av.match.OffsetRule;
import io.vmguard.av.match.PatternSyntaxException;
import java.util.List;

/** One .ndb line, {@code Name:Target:Offset:HexSignature[:MinFL[:MaxFL]]}, checked as cli_loadndb does. */
final class BodyLineParser {
    private BodyLineParser() {
    }

    /** The signature, or null when ClamAV skips it silently (functionality level, target code of 15 or more). */
    static BodySignature parse(String line, String database) throws LineRejected {
        List<String> f = Fields.split(line, ':');
        if (f.size() < 4 || f.size() > 6) {
            throw LineRejected.malformed("expected Name:Target:Offset:HexSignature[:MinFL[:MaxFL]], found " + f.size() + " fields");
        }
        String name = f.get(0);
        if (name.isEmpty()) {
            throw LineRejected.malformed("empty signature name");
        }
        long minimum = f.size() > 4 ? Fields.number(f.get(4), "MinFL") : -1;
        long maximum = f.size() > 5 ? Fields.number(f.get(5), "MaxFL") : -1;
        String targetText = f.get(1);
        int code = targetText.equals("*") ? 0 : (int) Math.min(Fields.number(targetText, "the target type"), Integer.MAX_VALUE);
        if (!FunctionalityLevel.admits(minimum, maximum) || code >= Target.CLAMAV_TARGETS) {
            return null;
        }
        Target target = Target.of(code);
        if (target == null) {
            throw LineRejected.unsupported(Target.unsupportedReason(code));
        }
        OffsetRule offset = offset(f.get(2), target);
        return new BodySignature(name, target, offset, pattern(f.get(3)), database);
    }

    static OffsetRule offset(String text, Target target) throws LineRejected.Malformed {
        OffsetRule rule;
        try {
            rule = OffsetRule.parse(text);
        } catch (PatternSyntaxException e) {
            throw LineRejected.malformed("offset '" + Fields.shorten(text) + "': " + e.getMessage());
        } catch (RuntimeException e) {
            throw LineRejected.malformed("offset '" + Fields.shorten(text) + "' does not parse (" + e.getClass().getSimpleName() + ")");
        }
        if (rule.needsExecutableLayout() && !target.executable()) {
            throw LineRejected.malformed("Invalid offset type for target: '" + Fields.shorten(text)
                    + "' needs a PE, ELF or Mach-O target, not target " + target.code);
        }
        return rule;
    }

    static BodyPattern pattern(String hex) throws LineRejected.Malformed {
        try {
            return BodyPattern.parse(hex);
        } catch (PatternSyntaxException e) {
            throw LineRejected.malformed("body signature: " + e.getMessage());
        } catch (RuntimeException e) {
            // The matcher's parser should only throw its checked exception; a slip there must not end the load.
            throw LineRejected.malformed("body signature '" + Fields.shorten(hex) + "' does not parse ("
                    + e.getClass().getSimpleName() + ")");
        }
    }
}
