package io.vmguard.engine.interp;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Segment;
import io.vmguard.engine.interp.platform.SnapshotFields;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * Segment registers (hidden parts included) and descriptor-table registers in a snapshot:
 * {@code {selector, base, limit, type, present, dpl, db, s, l, g, avl, unusable}} and {@code {base, limit}},
 * with the limit as the unsigned byte limit the descriptor cache holds (already scaled by G).
 */
final class SegmentSnapshot {
    private SegmentSnapshot() {}

    static void put(StateWriter out, Segment segment) {
        out.putLong("selector", segment.selector());
        out.putLong("base", segment.base());
        out.putLong("limit", Integer.toUnsignedLong(segment.limit()));
        out.putLong("type", segment.type());
        out.putBoolean("present", segment.present());
        out.putLong("dpl", segment.dpl());
        out.putBoolean("db", segment.db());
        out.putBoolean("s", segment.s());
        out.putBoolean("l", segment.l());
        out.putBoolean("g", segment.g());
        out.putBoolean("avl", segment.avl());
        out.putBoolean("unusable", segment.unusable());
    }

    /** A segment whose fields fit their descriptor fields, with a canonical base. */
    static Segment get(StateReader in) throws SnapshotException {
        int selector = in.getInt("selector", 0, 0xffff);
        long base = SnapshotFields.canonical(in, "base");
        int limit = (int) in.getLong("limit", 0, 0xffff_ffffL);
        int type = in.getInt("type", 0, 0xf);
        boolean present = in.getBoolean("present");
        int dpl = in.getInt("dpl", 0, 3);
        return new Segment(base, limit, selector, type, present, dpl, in.getBoolean("db"), in.getBoolean("s"),
                in.getBoolean("l"), in.getBoolean("g"), in.getBoolean("avl"), in.getBoolean("unusable"));
    }

    static void putTable(StateWriter out, DescriptorTable table) {
        out.putLong("base", table.base());
        out.putLong("limit", table.limit());
    }

    /** GDTR or IDTR: a canonical base and a 16-bit limit, as LGDT and LIDT load them. */
    static DescriptorTable getTable(StateReader in) throws SnapshotException {
        return new DescriptorTable(SnapshotFields.canonical(in, "base"), in.getInt("limit", 0, 0xffff));
    }
}
