package io.vmguard.arch.x86.acpi;

import java.util.function.Consumer;

/** Writes {@link Aml} objects as AML bytes (ACPI 6.5, 20.2). */
final class AmlEncoder {
    private static final int ZERO_OP = 0x00, ONE_OP = 0x01;
    private static final int BYTE_PREFIX = 0x0a, WORD_PREFIX = 0x0b, DWORD_PREFIX = 0x0c, STRING_PREFIX = 0x0d;
    private static final int QWORD_PREFIX = 0x0e;
    private static final int NAME_OP = 0x08, SCOPE_OP = 0x10, BUFFER_OP = 0x11, PACKAGE_OP = 0x12;
    private static final int EXT_OP_PREFIX = 0x5b, DEVICE_OP = 0x82;
    /** A PkgLength counts itself; with 3 following bytes it reaches 28 bits. */
    private static final int MAX_PACKAGE_LENGTH = (1 << 28) - 1;

    private AmlEncoder() {}

    static void encode(Aml aml, ByteWriter out) {
        switch (aml) {
            case Aml.Scope(NameString name, var terms) -> {
                out.u8(SCOPE_OP);
                framed(out, body -> {
                    name.encode(body);
                    terms.forEach(term -> encode(term, body));
                });
            }
            case Aml.Device(NameString name, var terms) -> {
                out.u8(EXT_OP_PREFIX).u8(DEVICE_OP);
                framed(out, body -> {
                    name.encode(body);
                    terms.forEach(term -> encode(term, body));
                });
            }
            case Aml.Name(NameString name, Aml.Data value) -> {
                out.u8(NAME_OP);
                name.encode(out);
                encode(value, out);
            }
            case Aml.Integer(long value) -> integer(value, out);
            case Aml.Str(String value) -> out.u8(STRING_PREFIX).ascii(value, value.length()).u8(0);
            case Aml.Package(var elements) -> {
                out.u8(PACKAGE_OP);
                framed(out, body -> {
                    body.u8(elements.size());
                    elements.forEach(element -> encode(element, body));
                });
            }
            case ResourceTemplate template -> {
                byte[] descriptors = template.descriptorBytes();
                out.u8(BUFFER_OP);
                framed(out, body -> {
                    integer(descriptors.length, body);
                    body.bytes(descriptors);
                });
            }
        }
    }

    /** The shortest encoding, as iasl chooses it: Zero, One, or a byte, word, dword or qword constant. */
    private static void integer(long value, ByteWriter out) {
        if (value == 0) {
            out.u8(ZERO_OP);
        } else if (value == 1) {
            out.u8(ONE_OP);
        } else if (Long.compareUnsigned(value, 0xff) <= 0) {
            out.u8(BYTE_PREFIX).u8((int) value);
        } else if (Long.compareUnsigned(value, 0xffff) <= 0) {
            out.u8(WORD_PREFIX).u16((int) value);
        } else if (Long.compareUnsigned(value, 0xffff_ffffL) <= 0) {
            out.u8(DWORD_PREFIX).u32(value);
        } else {
            out.u8(QWORD_PREFIX).u64(value);
        }
    }

    /** Writes what {@code body} writes, preceded by its PkgLength. */
    private static void framed(ByteWriter out, Consumer<ByteWriter> body) {
        ByteWriter inner = new ByteWriter();
        body.accept(inner);
        packageLength(inner.size(), out);
        out.bytes(inner.toArray());
    }

    /**
     * PkgLength (20.2.4): the length of the body plus the PkgLength's own bytes. Up to 63 it is one byte;
     * otherwise the lead byte holds the count of following bytes (bits 7-6) and the low nibble (bits 3-0),
     * and each following byte the next eight bits.
     */
    static void packageLength(int bodyLength, ByteWriter out) {
        if (bodyLength + 1 <= 0x3f) {
            out.u8(bodyLength + 1);
            return;
        }
        for (int extra = 1; extra <= 3; extra++) {
            int total = bodyLength + 1 + extra;
            if (total < 1 << (4 + 8 * extra)) {
                out.u8((extra << 6) | (total & 0xf));
                for (int i = 0; i < extra; i++) {
                    out.u8(total >>> (4 + 8 * i));
                }
                return;
            }
        }
        throw new IllegalArgumentException("AML object of " + bodyLength + " bytes exceeds the largest PkgLength ("
                + MAX_PACKAGE_LENGTH + ")");
    }
}
