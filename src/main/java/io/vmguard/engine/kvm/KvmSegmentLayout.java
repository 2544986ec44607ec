package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vmguard.engine.Segment;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_segment (asm/kvm.h): a segment register's hidden part, one byte per attribute flag. */
final class KvmSegmentLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("base"),
            JAVA_INT.withName("limit"),
            JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"),
            JAVA_BYTE.withName("present"),
            JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"),
            JAVA_BYTE.withName("s"),
            JAVA_BYTE.withName("l"),
            JAVA_BYTE.withName("g"),
            JAVA_BYTE.withName("avl"),
            JAVA_BYTE.withName("unusable"),
            JAVA_BYTE.withName("padding")).withName("kvm_segment");

    private static final long BASE = offset("base");
    private static final long LIMIT = offset("limit");
    private static final long SELECTOR = offset("selector");
    private static final long TYPE = offset("type");
    private static final long PRESENT = offset("present");
    private static final long DPL = offset("dpl");
    private static final long DB = offset("db");
    private static final long S = offset("s");
    private static final long L = offset("l");
    private static final long G = offset("g");
    private static final long AVL = offset("avl");
    private static final long UNUSABLE = offset("unusable");

    private KvmSegmentLayout() {}

    static Segment read(MemorySegment segment) {
        return new Segment(
                segment.get(JAVA_LONG, BASE),
                segment.get(JAVA_INT, LIMIT),
                Short.toUnsignedInt(segment.get(JAVA_SHORT, SELECTOR)),
                Byte.toUnsignedInt(segment.get(JAVA_BYTE, TYPE)),
                flag(segment, PRESENT),
                Byte.toUnsignedInt(segment.get(JAVA_BYTE, DPL)),
                flag(segment, DB),
                flag(segment, S),
                flag(segment, L),
                flag(segment, G),
                flag(segment, AVL),
                flag(segment, UNUSABLE));
    }

    static void write(MemorySegment segment, Segment s) {
        segment.set(JAVA_LONG, BASE, s.base());
        segment.set(JAVA_INT, LIMIT, s.limit());
        segment.set(JAVA_SHORT, SELECTOR, (short) s.selector());
        segment.set(JAVA_BYTE, TYPE, (byte) s.type());
        setFlag(segment, PRESENT, s.present());
        segment.set(JAVA_BYTE, DPL, (byte) s.dpl());
        setFlag(segment, DB, s.db());
        setFlag(segment, S, s.s());
        setFlag(segment, L, s.l());
        setFlag(segment, G, s.g());
        setFlag(segment, AVL, s.avl());
        setFlag(segment, UNUSABLE, s.unusable());
    }

    private static boolean flag(MemorySegment segment, long offset) {
        return segment.get(JAVA_BYTE, offset) != 0;
    }

    private static void setFlag(MemorySegment segment, long offset, boolean value) {
        segment.set(JAVA_BYTE, offset, (byte) (value ? 1 : 0));
    }

    private static long offset(String field) {
        return LAYOUT.byteOffset(groupElement(field));
    }
}
