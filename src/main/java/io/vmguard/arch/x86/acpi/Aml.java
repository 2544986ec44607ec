package io.vmguard.arch.x86.acpi;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The part of AML (ACPI 6.5, chapter 20) vmguard's DSDT uses: named objects ({@link Scope}, {@link Device},
 * {@link Name}) holding data ({@link Integer}, {@link Str}, {@link Package}, {@link ResourceTemplate}).
 * Terms and data are separate types, so a Package cannot hold a Device and a Name cannot hold a Scope.
 * {@link AmlEncoder} turns them into bytes; the static factories read like the ASL they stand for.
 */
public sealed interface Aml {
    /** A term of a scope or device body: a named object. */
    sealed interface Term extends Aml permits Scope, Device, Name {}

    /** A data object: what a Name holds and a Package contains. */
    sealed interface Data extends Aml permits Integer, Str, Package, ResourceTemplate {}

    /** {@code Scope (name) { terms }}: opens an existing namespace node, such as {@code \_SB}. */
    record Scope(NameString name, List<Term> terms) implements Term {
        public Scope {
            terms = List.copyOf(terms);
        }
    }

    /** {@code Device (name) { terms }}. */
    record Device(NameString name, List<Term> terms) implements Term {
        public Device {
            terms = List.copyOf(terms);
        }
    }

    /** {@code Name (name, data)}. */
    record Name(NameString name, Data value) implements Term {}

    /** An integer constant, unsigned 64-bit (the DSDT's revision 2 makes integers 64 bits wide). */
    record Integer(long value) implements Data {}

    /** A string constant: ASCII without NUL (AML strings are NUL-terminated). */
    record Str(String value) implements Data {
        public Str {
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c == 0 || c > 0x7f) {
                    throw new IllegalArgumentException("AML string \"" + value + "\" is not ASCII without NUL");
                }
            }
        }
    }

    /** {@code Package () { elements }}: at most 255 elements (a larger one would need VarPackage). */
    record Package(List<Data> elements) implements Data {
        public Package {
            elements = List.copyOf(elements);
            if (elements.size() > 255) {
                throw new IllegalArgumentException("AML package of " + elements.size() + " elements: at most 255");
            }
        }
    }

    /** The AML bytes of this object. */
    default byte[] toBytes() {
        ByteWriter out = new ByteWriter();
        AmlEncoder.encode(this, out);
        return out.toArray();
    }

    static Scope scope(String name, Term... terms) {
        return new Scope(NameString.of(name), List.of(terms));
    }

    static Device device(String name, List<Term> terms) {
        return new Device(NameString.of(name), terms);
    }

    static Device device(String name, Term... terms) {
        return device(name, List.of(terms));
    }

    static Name name(String name, Data value) {
        return new Name(NameString.of(name), value);
    }

    static Integer integer(long value) {
        return new Integer(value);
    }

    static Str string(String value) {
        return new Str(value);
    }

    static Package pkg(List<? extends Data> elements) {
        return new Package(List.copyOf(elements));
    }

    static Package pkg(Data... elements) {
        return new Package(List.of(elements));
    }

    /**
     * {@code EisaId ("PNP0A08")}: a PNP id compressed into an integer. Three letters of five bits each
     * (A = 1) and four hex digits make a 32-bit big-endian value, which AML stores as a little-endian integer.
     */
    static Integer eisaId(String id) {
        byte[] chars = id.getBytes(StandardCharsets.US_ASCII);
        if (chars.length != 7 || !id.matches("[A-Z]{3}[0-9A-F]{4}")) {
            throw new IllegalArgumentException("bad EISA id \"" + id + "\": three capitals and four hex digits");
        }
        int vendor = ((chars[0] - 0x40) << 10) | ((chars[1] - 0x40) << 5) | (chars[2] - 0x40);
        int product = java.lang.Integer.parseInt(id.substring(3), 16);
        int bigEndian = (vendor << 16) | product;
        return new Integer(java.lang.Integer.toUnsignedLong(java.lang.Integer.reverseBytes(bigEndian)));
    }
}
