package io.vmguard.av.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A generated body signature: its name, kind, elements and ndb offset field ({@code *}, {@code n}, {@code n,m},
 * {@code EOF-n}); written as ndb, YARA or regex from the same parts.
 */
public record GeneratedSignature(String name, SyntaxKind kind, List<SigElement> elements, String offset) {
    public GeneratedSignature {
        elements = List.copyOf(elements);
    }

    public GeneratedSignature(String name, SyntaxKind kind, List<SigElement> elements) {
        this(name, kind, elements, "*");
    }

    /** The same body under another name, anchored by an ndb offset field. */
    public GeneratedSignature at(String newName, String offsetField) {
        return new GeneratedSignature(newName, kind, elements, offsetField);
    }

    /** ClamAV hex body. */
    public String hex() {
        return elements.stream().map(SigElement::clamHex).collect(Collectors.joining());
    }

    /** {@code Name:0:offset:hex}: target any. */
    public String ndbLine() {
        return name + ":0:" + offset + ":" + hex();
    }

    /** A regex for Hyperscan (with DOTALL) and the reference matcher: the whole signature. */
    public String regex() {
        return elements.stream().map(SigElement::regex).collect(Collectors.joining());
    }

    /** The YARA hex string (without braces), or empty when an element has no YARA 4.2 equivalent. */
    public Optional<String> yaraHex() {
        List<String> out = new ArrayList<>();
        for (SigElement e : elements) {
            Optional<String> y = e.yara();
            if (y.isEmpty()) {
                return Optional.empty();
            }
            out.add(y.get());
        }
        return Optional.of(String.join(" ", out));
    }

    /** The parts ClamAV matches separately (split at *, {n-m}, {-n}, {n-}, {n>=128}). */
    public List<List<SigElement>> parts() {
        List<List<SigElement>> parts = new ArrayList<>();
        List<SigElement> current = new ArrayList<>();
        for (SigElement e : elements) {
            if (e.splits()) {
                parts.add(current);
                current = new ArrayList<>();
            } else {
                current.add(e);
            }
        }
        parts.add(current);
        return parts;
    }

    /** Whether ClamAV tracks earlier parts' occurrences in its TRACKLEN ring for this signature. */
    public boolean multiPart() {
        return parts().size() > 1;
    }

    /** java.util.regex over ISO-8859-1 text: the reference matcher of the tests. */
    public Pattern pattern() {
        return Pattern.compile(regex(), Pattern.DOTALL);
    }

    /** Each part's pattern, in order. */
    public List<Pattern> partPatterns() {
        return parts().stream()
                .map(p -> Pattern.compile(p.stream().map(SigElement::regex).collect(Collectors.joining()), Pattern.DOTALL))
                .toList();
    }
}
