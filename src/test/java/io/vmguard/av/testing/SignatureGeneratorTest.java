package io.vmguard.av.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.av.testing.SigElement.Bracket;
import io.vmguard.av.testing.SigElement.Bytes;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class SignatureGeneratorTest {
    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void everyInstanceMatchesItsSignatureAndEveryVariantAsLabelled() {
        SignatureGenerator generator = new SignatureGenerator(42);
        for (GeneratedSignature sig : generator.generate(13 * 40)) {
            Pattern p = sig.pattern();
            assertTrue(p.matcher(latin1(generator.instantiate(sig))).find(), sig.ndbLine());
            for (SignatureGenerator.Variant v : generator.variants(sig)) {
                assertEquals(v.matches(), p.matcher(latin1(v.bytes())).find(), sig.ndbLine() + " " + v.label());
            }
        }
    }

    @Test
    void signaturesFollowClamavStructuralRules() {
        SignatureGenerator generator = new SignatureGenerator(7);
        Set<SyntaxKind> seen = EnumSet.noneOf(SyntaxKind.class);
        for (GeneratedSignature sig : generator.generate(13 * 40)) {
            seen.add(sig.kind());
            assertFalse(sig.ndbLine().isBlank());
            assertFalse(sig.ndbLine().contains("\n"));
            for (List<SigElement> part : sig.parts()) {
                boolean bracketPart = part.stream().anyMatch(e -> e instanceof Bracket);
                // Every part opens with a run of >= 2 static bytes, or is "single byte [x-y] static run".
                assertTrue(part.getFirst() instanceof Bytes b && (b.value().length >= 2 || bracketPart), sig.ndbLine());
            }
            sig.elements().stream().filter(e -> e instanceof Bracket).map(e -> (Bracket) e)
                    .forEach(b -> assertTrue(b.min() >= 1 && b.max() <= 32 && b.min() <= b.max(), sig.ndbLine()));
        }
        assertEquals(EnumSet.allOf(SyntaxKind.class), seen);
    }

    @Test
    void sameSeedSameSignatures() {
        List<String> a = new SignatureGenerator(3).generate(100).stream().map(GeneratedSignature::ndbLine).toList();
        List<String> b = new SignatureGenerator(3).generate(100).stream().map(GeneratedSignature::ndbLine).toList();
        assertEquals(a, b);
    }

    @Test
    void negatedMultiByteSetBecomesAComplementRegex() {
        SigElement.Alt alt = new SigElement.Alt(List.of(new byte[] {1, 2}, new byte[] {1, 3}, new byte[] {4, 5}), true);
        Pattern p = Pattern.compile("^" + alt.regex() + "$", Pattern.DOTALL);
        int hits = 0;
        for (int x = 0; x < 256; x++) {
            for (int y = 0; y < 256; y++) {
                if (p.matcher(latin1(new byte[] {(byte) x, (byte) y})).matches()) {
                    hits++;
                }
            }
        }
        assertEquals(65536 - 3, hits);
    }
}
