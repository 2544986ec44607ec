package io.vmguard.av.testing;

import io.vmguard.av.testing.SigElement.Alt;
import io.vmguard.av.testing.SigElement.AnyByte;
import io.vmguard.av.testing.SigElement.Bracket;
import io.vmguard.av.testing.SigElement.Bytes;
import io.vmguard.av.testing.SigElement.Gap;
import io.vmguard.av.testing.SigElement.GapForm;
import io.vmguard.av.testing.SigElement.Nibble;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Seeded random ClamAV body signatures cycling through the 13 syntax kinds of av.md §4.3, obeying ClamAV's
 * structural rules: every part starts with at least 4 static bytes (ClamAV needs 2 as its trie anchor; 4
 * keep chance matches in random data negligible), {@code [x-y]} stays within 32 and sits next to a single
 * byte, alternatives are distinct and of one length. Also instantiates a signature (wildcards filled) and
 * derives boundary cases and near-misses from it.
 */
public final class SignatureGenerator {
    private final Random random;
    private final String prefix;
    private int counter;

    public SignatureGenerator(long seed, String namePrefix) {
        this.random = new Random(seed);
        this.prefix = namePrefix;
    }

    public SignatureGenerator(long seed) {
        this(seed, "VMG.Gen");
    }

    /** {@code count} signatures, kind i mod 13. */
    public List<GeneratedSignature> generate(int count) {
        SyntaxKind[] kinds = SyntaxKind.values();
        List<GeneratedSignature> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(next(kinds[i % kinds.length]));
        }
        return out;
    }

    /** {@code count} signatures cycling through every kind but LITERAL: the benchmark's wildcard set. */
    public List<GeneratedSignature> generateWildcard(int count) {
        SyntaxKind[] kinds = SyntaxKind.values();
        List<GeneratedSignature> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(next(kinds[1 + i % (kinds.length - 1)]));
        }
        return out;
    }

    /** {@code count} plain literals of {@code length} bytes: the benchmark's literal set. */
    public List<GeneratedSignature> generateLiteral(int count, int length) {
        List<GeneratedSignature> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(new GeneratedSignature(name(SyntaxKind.LITERAL), SyntaxKind.LITERAL, List.of(staticBytes(length))));
        }
        return out;
    }

    public GeneratedSignature next(SyntaxKind kind) {
        List<SigElement> e = new ArrayList<>();
        switch (kind) {
            case LITERAL -> e.add(staticBytes(12 + random.nextInt(13)));
            case ANY_BYTE -> repeat(e, () -> {
                int n = 1 + random.nextInt(3);
                for (int i = 0; i < n; i++) {
                    e.add(new AnyByte());
                }
            });
            case NIBBLE -> repeat(e, () -> e.add(new Nibble(random.nextBoolean(), random.nextInt(16))));
            case RANGE_GAP -> {
                int n = 1 + random.nextInt(64);
                repeat(e, () -> e.add(Gap.range(n, n + 1 + random.nextInt(128))));
            }
            case UP_TO_GAP -> repeat(e, () -> e.add(Gap.upTo(1 + random.nextInt(64))));
            case AT_LEAST_GAP -> repeat(e, () -> e.add(Gap.atLeast(1 + random.nextInt(64))));
            case STAR -> repeat(e, () -> e.add(Gap.any()));
            case ALT_BYTE -> repeat(e, () -> e.add(new Alt(distinct(2 + random.nextInt(4), 1), false)));
            case ALT_STRING -> repeat(e, () -> e.add(new Alt(distinct(2 + random.nextInt(3), 2 + random.nextInt(3)), false)));
            case NEGATION -> repeat(e, () -> e.add(new Alt(distinct(1 + random.nextInt(3), 1 + random.nextInt(2)), true)));
            case BRACKET -> {
                int x = 1 + random.nextInt(16);
                int y = x + random.nextInt(33 - x);
                byte single = (byte) (1 + random.nextInt(255));
                if (random.nextBoolean()) {
                    e.add(new Bytes(new byte[] {single}));
                    e.add(new Bracket(x, y));
                    e.add(staticBytes(6 + random.nextInt(5)));
                } else {
                    e.add(staticBytes(6 + random.nextInt(5)));
                    e.add(new Bracket(x, y));
                    e.add(new Bytes(new byte[] {single}));
                }
            }
            case LONG_GAP -> repeat(e, () -> e.add(Gap.exact(128 + random.nextInt(897))));
            case SHORT_GAP -> repeat(e, () -> e.add(Gap.exact(1 + random.nextInt(127))));
        }
        return new GeneratedSignature(name(kind), kind, e);
    }

    private String name(SyntaxKind kind) {
        return prefix + "." + kind.tag + "." + counter++;
    }

    /** static, element, static, and a second element and static one time in three. */
    private void repeat(List<SigElement> e, Runnable element) {
        e.add(staticBytes(4 + random.nextInt(5)));
        int times = random.nextInt(3) == 0 ? 2 : 1;
        for (int i = 0; i < times; i++) {
            element.run();
            e.add(staticBytes(4 + random.nextInt(5)));
        }
    }

    private Bytes staticBytes(int length) {
        byte[] b = new byte[length];
        random.nextBytes(b);
        return new Bytes(b);
    }

    private List<byte[]> distinct(int count, int width) {
        Set<String> seen = new HashSet<>();
        List<byte[]> out = new ArrayList<>();
        while (out.size() < count) {
            byte[] b = new byte[width];
            random.nextBytes(b);
            if (seen.add(SigElement.HEX.formatHex(b))) {
                out.add(b);
            }
        }
        return out;
    }

    // ---- instances ----

    /** An instance with every wildcard filled at random and every gap a random length in its range. */
    public byte[] instantiate(GeneratedSignature sig) {
        return fill(sig, Map.of(), Map.of());
    }

    /**
     * An instance; {@code lengths} overrides the length of gap/bracket elements by index, {@code values} the
     * bytes of alternative/nibble elements by index (a nibble's override is one byte).
     */
    public byte[] fill(GeneratedSignature sig, Map<Integer, Integer> lengths, Map<Integer, byte[]> values) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<SigElement> elements = sig.elements();
        for (int i = 0; i < elements.size(); i++) {
            SigElement element = elements.get(i);
            switch (element) {
                case Bytes b -> out.writeBytes(b.value());
                case AnyByte a -> out.write(random.nextInt(256));
                case Nibble n -> {
                    if (values.containsKey(i)) {
                        out.write(values.get(i)[0]);
                    } else {
                        int other = random.nextInt(16);
                        out.write(n.highFixed() ? n.nibble() << 4 | other : other << 4 | n.nibble());
                    }
                }
                case Gap g -> {
                    int length = lengths.containsKey(i) ? lengths.get(i) : switch (g.form()) {
                        case EXACT -> g.min();
                        case UP_TO, RANGE -> g.min() + random.nextInt(g.max() - g.min() + 1);
                        case AT_LEAST -> g.min() + random.nextInt(65);
                        case ANY -> random.nextInt(200);
                    };
                    out.writeBytes(filler(length, -1));
                }
                case Bracket br -> {
                    int length = lengths.containsKey(i) ? lengths.get(i) : br.min() + random.nextInt(br.max() - br.min() + 1);
                    out.writeBytes(filler(length, bracketByte(sig)));
                }
                case Alt alt -> {
                    if (values.containsKey(i)) {
                        out.writeBytes(values.get(i));
                    } else if (!alt.negated()) {
                        out.writeBytes(alt.options().get(random.nextInt(alt.options().size())));
                    } else {
                        out.writeBytes(outside(alt));
                    }
                }
            }
        }
        return out.toByteArray();
    }

    /** Random bytes, none equal to {@code avoid} (-1: any). */
    public byte[] filler(int length, int avoid) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            int v;
            do {
                v = random.nextInt(256);
            } while (v == avoid);
            b[i] = (byte) v;
        }
        return b;
    }

    private byte[] outside(Alt alt) {
        byte[] b = new byte[alt.width()];
        do {
            random.nextBytes(b);
        } while (alt.contains(b));
        return b;
    }

    /** The single byte beside a [x-y], or -1. */
    private static int bracketByte(GeneratedSignature sig) {
        List<SigElement> e = sig.elements();
        for (int i = 0; i < e.size(); i++) {
            if (e.get(i) instanceof Bracket) {
                Bytes single = (Bytes) (((Bytes) e.get(i - 1)).value().length == 1 ? e.get(i - 1) : e.get(i + 1));
                return single.value()[0] & 0xff;
            }
        }
        return -1;
    }

    /** A boundary case or near-miss derived from a signature: {@code matches} says whether the bytes are an instance. */
    public record Variant(String label, byte[] bytes, boolean matches) {}

    /**
     * The tricky cases of one signature: each gap at its inclusive ends (matches) and one past them (no match),
     * {@code *} parts reversed, a nibble or alternative given a value outside it, a negation given a value inside
     * it, and one static byte changed.
     */
    public List<Variant> variants(GeneratedSignature sig) {
        List<Variant> out = new ArrayList<>();
        List<SigElement> e = sig.elements();
        int bracketByte = bracketByte(sig);
        for (int i = 0; i < e.size(); i++) {
            switch (e.get(i)) {
                case Gap g when g.form() == GapForm.ANY -> {
                    // The parts in the opposite order: * only looks forward.
                    List<SigElement> before = e.subList(0, i);
                    List<SigElement> after = e.subList(i + 1, e.size());
                    GeneratedSignature head = new GeneratedSignature(sig.name(), sig.kind(), before);
                    GeneratedSignature tail = new GeneratedSignature(sig.name(), sig.kind(), after);
                    ByteArrayOutputStream reversed = new ByteArrayOutputStream();
                    reversed.writeBytes(fill(tail, Map.of(), Map.of()));
                    reversed.writeBytes(filler(random.nextInt(64), -1));
                    reversed.writeBytes(fill(head, Map.of(), Map.of()));
                    out.add(new Variant("star-reversed-" + i, reversed.toByteArray(), false));
                }
                case Gap g -> {
                    out.add(new Variant("gap-min-" + i, fill(sig, Map.of(i, g.min()), Map.of()), true));
                    if (g.min() > 0) {
                        out.add(new Variant("gap-below-" + i, fill(sig, Map.of(i, g.min() - 1), Map.of()), false));
                    }
                    if (g.max() >= 0) {
                        out.add(new Variant("gap-max-" + i, fill(sig, Map.of(i, g.max()), Map.of()), true));
                        out.add(new Variant("gap-above-" + i, fill(sig, Map.of(i, g.max() + 1), Map.of()), false));
                    }
                }
                case Bracket br -> {
                    boolean singleFirst = ((Bytes) e.get(i - 1)).value().length == 1;
                    out.add(new Variant("bracket-min", fill(sig, Map.of(i, br.min()), Map.of()), true));
                    out.add(new Variant("bracket-max", fill(sig, Map.of(i, br.max()), Map.of()), true));
                    // Past the window the single byte must not appear by chance: pad that side with other bytes.
                    byte[] pad = filler(br.max() + 2, bracketByte);
                    out.add(new Variant("bracket-below", padded(pad, fill(sig, Map.of(i, br.min() - 1), Map.of()), singleFirst), false));
                    out.add(new Variant("bracket-above", padded(pad, fill(sig, Map.of(i, br.max() + 1), Map.of()), singleFirst), false));
                }
                case Nibble n -> {
                    int wrong = (n.nibble() + 1 + random.nextInt(15)) & 0xf;
                    int other = random.nextInt(16);
                    byte b = (byte) (n.highFixed() ? wrong << 4 | other : other << 4 | wrong);
                    out.add(new Variant("nibble-wrong-" + i, fill(sig, Map.of(), Map.of(i, new byte[] {b})), false));
                }
                case Alt alt when alt.negated() -> out.add(new Variant("negation-hit-" + i,
                        fill(sig, Map.of(), Map.of(i, alt.options().get(random.nextInt(alt.options().size())))), false));
                case Alt alt -> out.add(new Variant("alt-outside-" + i, fill(sig, Map.of(), Map.of(i, outside(alt))), false));
                default -> { }
            }
        }
        // One static byte of the last static run changed.
        for (int i = e.size() - 1; i >= 0; i--) {
            if (e.get(i) instanceof Bytes b && b.value().length > 1) {
                byte[] changed = b.value().clone();
                int at = random.nextInt(changed.length);
                changed[at] ^= (byte) (1 + random.nextInt(255));
                List<SigElement> copy = new ArrayList<>(e);
                copy.set(i, new Bytes(changed));
                out.add(new Variant("static-byte-changed", fill(new GeneratedSignature(sig.name(), sig.kind(), copy),
                        Map.of(), Map.of()), false));
                break;
            }
        }
        return out;
    }

    private static byte[] padded(byte[] pad, byte[] body, boolean padBefore) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (padBefore) {
            out.writeBytes(pad);
            out.writeBytes(body);
        } else {
            out.writeBytes(body);
            out.writeBytes(pad);
        }
        return out.toByteArray();
    }

    public Random random() {
        return random;
    }
}
