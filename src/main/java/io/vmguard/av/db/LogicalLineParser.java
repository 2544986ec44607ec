package io.vmguard.av.db;

import io.vmguard.av.match.BodyPattern;
import io.vmguard.av.match.OffsetRule;
import io.vmguard.av.match.PatternOptions;
import java.util.ArrayList;
import java.util.List;

/**
 * One .ldb line, {@code Name;TargetDescriptionBlock;LogicalExpression;Subsig0[;Subsig1...]}, checked as ClamAV's
 * load_oneldb, lsigattribs and readdb_parse_ldb_subsignature do. PCRE, macro, byte-compare and fuzzy-image
 * subsignatures, and the container and icon attributes, are valid ClamAV that vmguard does not evaluate: such
 * signatures are skipped as a whole and counted, never loaded with a piece missing.
 */
final class LogicalLineParser {
    private LogicalLineParser() {
    }

    /** The signature, or null when ClamAV skips it silently (Engine range, target code of 15 or more). */
    static LogicalSignature parse(String line, String database) throws LineRejected {
        List<String> tokens = Fields.split(line, ';');
        if (tokens.size() < 4) {
            throw LineRejected.malformed("expected Name;TargetDescription;Expression;Subsig0[;Subsig1...], found "
                    + tokens.size() + " fields");
        }
        String name = tokens.get(0);
        if (name.isEmpty()) {
            throw LineRejected.malformed("empty signature name");
        }
        int subsigs = tokens.size() - 3;
        if (subsigs > LogicalSignature.MAX_SUBSIGNATURES) {
            throw LineRejected.malformed(subsigs + " subsignatures, more than the " + LogicalSignature.MAX_SUBSIGNATURES + " allowed");
        }
        LogicalExpression expression = LogicalExpression.parse(tokens.get(2));
        if (expression.maxIndex() + 1 != subsigs) {
            throw LineRejected.malformed("the number of subsignatures (" + subsigs
                    + ") doesn't match the IDs in the logical expression (" + (expression.maxIndex() + 1) + ")");
        }
        TargetDescription description = description(tokens.get(1));
        if (description == null) {
            return null;
        }
        List<LogicalSignature.Subsignature> parsed = new ArrayList<>(subsigs);
        for (int i = 0; i < subsigs; i++) {
            try {
                parsed.add(subsignature(tokens.get(3 + i), description.target()));
            } catch (LineRejected.Malformed e) {
                throw LineRejected.malformed("subsignature " + i + ": " + e.getMessage());
            }
        }
        return new LogicalSignature(name, description, expression, List.copyOf(parsed), database);
    }

    /** lsigattribs and init_tdb; null when the signature is silently not for this engine. */
    static TargetDescription description(String block) throws LineRejected {
        List<String> attributes = Fields.split(block, ',');
        long[] engine = null;
        long[] fileSize = null;
        long[] entryPoint = null;
        long[] sections = null;
        Long target = null;
        boolean newAttributes = false;
        String unsupported = null;
        for (int i = 0; i < attributes.size(); i++) {
            String attribute = attributes.get(i);
            int colon = attribute.indexOf(':');
            if (colon < 0) {
                throw LineRejected.malformed("target description attribute '" + Fields.shorten(attribute) + "' has no ':'");
            }
            String key = attribute.substring(0, colon);
            String value = attribute.substring(colon + 1);
            switch (key) {
                case "Engine" -> {
                    if (i != 0) {
                        throw LineRejected.malformed("the Engine attribute must come first in the target description");
                    }
                    engine = range(key, value);
                }
                case "Target" -> target = Fields.number(value, "Target");
                case "FileSize" -> fileSize = range(key, value);
                case "EntryPoint" -> entryPoint = range(key, value);
                case "NumberOfSections" -> sections = range(key, value);
                case "Container", "Intermediates" -> unsupported = "the " + key + " attribute needs archive scanning, which vmguard does not do";
                case "HandlerType" -> unsupported = "HandlerType retypes the file for ClamAV's format handlers, which vmguard does not have";
                case "IconGroup1", "IconGroup2" -> unsupported = "icon groups (" + key + ") are not supported";
                default -> unsupported = "unknown target description attribute '" + Fields.shorten(key) + "'";
            }
            if (!key.equals("Engine") && !key.equals("Target")) {
                newAttributes = true;
            }
        }
        if (newAttributes && (engine == null || engine[0] < FunctionalityLevel.NEW_TDB_ATTRIBUTES)) {
            throw LineRejected.malformed("attributes other than Target need an Engine attribute of at least "
                    + FunctionalityLevel.NEW_TDB_ATTRIBUTES + "-");
        }
        if (engine != null && !FunctionalityLevel.admits(engine[0], engine[1])) {
            return null;
        }
        if (target == null) {
            throw LineRejected.malformed("no Target in the target description");
        }
        if (target >= Target.CLAMAV_TARGETS) {
            return null;
        }
        Target t = Target.of(target.intValue());
        if (t == null) {
            throw LineRejected.unsupported(Target.unsupportedReason(target.intValue()));
        }
        if ((entryPoint != null || sections != null) && !t.executable()) {
            throw LineRejected.malformed("EntryPoint/NumberOfSections need a PE, ELF or Mach-O target");
        }
        if (unsupported != null) {
            throw LineRejected.unsupported(unsupported);
        }
        return new TargetDescription(t, fileSize, entryPoint, sections);
    }

    private static long[] range(String key, String value) throws LineRejected.Malformed {
        int dash = value.indexOf('-');
        if (dash < 0) {
            throw LineRejected.malformed(key + " needs a range min-max, found '" + Fields.shorten(value) + "'");
        }
        long low = Fields.number(value.substring(0, dash), key + " minimum");
        long high = Fields.number(value.substring(dash + 1), key + " maximum");
        return new long[] {low, high};
    }

    /** {@code [offset:]hex[::options]}, or one of the kinds vmguard does not evaluate. */
    static LogicalSignature.Subsignature subsignature(String text, Target target) throws LineRejected {
        if (text.isEmpty()) {
            throw LineRejected.malformed("empty (a trailing ';'?)");
        }
        if (text.charAt(0) == '$') {
            throw LineRejected.unsupported("macro subsignatures are not supported");
        }
        if (text.indexOf('/') >= 0) {
            throw LineRejected.unsupported("PCRE subsignatures are not supported");
        }
        int hash = text.indexOf('#');
        if (text.indexOf('(') >= 0 && hash >= 0 && text.lastIndexOf('#') != hash) {
            throw LineRejected.unsupported("byte-compare subsignatures are not supported");
        }
        if (text.startsWith("fuzzy_img#")) {
            throw LineRejected.unsupported("fuzzy image hash subsignatures are not supported");
        }
        List<String> parts = Fields.split(text, ':');
        if (parts.size() > 4) {
            throw LineRejected.malformed("expected [offset:]hex[::options], found " + parts.size() + " ':'-fields");
        }
        String offset = parts.size() % 2 == 0 ? parts.get(0) : "*";
        String hex = parts.size() % 2 == 0 ? parts.get(1) : parts.get(0);
        String options = parts.size() == 3 ? parts.get(2) : parts.size() == 4 ? parts.get(3) : "";
        if (parts.size() >= 3 && !parts.get(parts.size() - 2).isEmpty()) {
            throw LineRejected.malformed("options must follow '::'");
        }
        OffsetRule rule = BodyLineParser.offset(offset, target);
        BodyPattern pattern = BodyLineParser.pattern(hex);
        PatternOptions parsedOptions = options(options);
        try {
            pattern.checkOptions(parsedOptions);
        } catch (io.vmguard.av.match.PatternSyntaxException e) {
            throw LineRejected.malformed("body signature with options '" + options + "': " + e.getMessage());
        } catch (RuntimeException e) {
            throw LineRejected.malformed("body signature with options '" + options + "' does not parse ("
                    + e.getClass().getSimpleName() + ")");
        }
        return new LogicalSignature.Subsignature(rule, pattern, parsedOptions);
    }

    private static PatternOptions options(String text) throws LineRejected.Malformed {
        if (text.isEmpty()) {
            return PatternOptions.NONE;
        }
        boolean nocase = false, wide = false, fullword = false, ascii = false;
        for (char c : text.toCharArray()) {
            switch (c) {
                case 'i' -> nocase = true;
                case 'w' -> wide = true;
                case 'f' -> fullword = true;
                case 'a' -> ascii = true;
                default -> throw LineRejected.malformed("invalid subsignature option '" + Fields.shorten(String.valueOf(c)) + "' (i, w, f, a)");
            }
        }
        return new PatternOptions(nocase, wide, fullword, ascii);
    }
}
