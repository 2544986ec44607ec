package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * Checks the interpreter's snapshot fields need beyond {@link StateReader}'s types and ranges (register
 * bits the hardware never sets, canonical addresses), and the encoding of timer instants.
 *
 * <p><b>Time.</b> The platform keeps absolute VM times (when a count was loaded, when a timer expires).
 * A snapshot stores them relative to the VM time it was taken at: {@code *_ago_nanos} for instants in
 * the past, {@code *_in_nanos} for instants to come (negative when one is overdue: due but not yet
 * serviced), and {@link #NEVER} for "no timer armed". The restored VM's clock continues from the saved
 * time, so the two encodings agree; relative values keep the file readable ("fires in 120 µs") and
 * independent of where a process's clock starts.
 */
public final class SnapshotFields {
    /** "No timer armed" in a snapshot: the platform's own {@link Platform#NEVER}. */
    public static final long NEVER = Long.MAX_VALUE;
    /**
     * The largest relative time accepted (about 146 years): far beyond any running VM, and small enough
     * that adding it to a VM time never overflows.
     */
    public static final long TIME_LIMIT = 1L << 62;

    private SnapshotFields() {}

    /** A long whose set bits all lie in {@code allowed}. */
    public static long bits(StateReader in, String key, long allowed) throws SnapshotException {
        long value = in.getLong(key);
        if ((value & ~allowed) != 0) {
            throw invalid(in, key, "0x" + Long.toHexString(value) + " sets bits outside 0x" + Long.toHexString(allowed));
        }
        return value;
    }

    /** A 32-bit register stored unsigned (0..0xffffffff) whose set bits all lie in {@code allowed}. */
    public static int bits32(StateReader in, String key, int allowed) throws SnapshotException {
        return (int) bits(in, key, Integer.toUnsignedLong(allowed));
    }

    /** Writes a 32-bit register unsigned, as {@link #bits32} reads it. */
    public static void putUnsigned(StateWriter out, String key, int value) {
        out.putLong(key, Integer.toUnsignedLong(value));
    }

    /** Writes 32-bit registers unsigned, as {@link #unsignedInts} reads them. */
    public static void putUnsigned(StateWriter out, String key, int[] values) {
        long[] unsigned = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            unsigned[i] = Integer.toUnsignedLong(values[i]);
        }
        out.putLongs(key, unsigned);
    }

    /** Exactly {@code length} 32-bit registers stored unsigned. */
    public static int[] unsignedInts(StateReader in, String key, int length) throws SnapshotException {
        long[] values = in.getLongs(key, length);
        int[] result = new int[length];
        for (int i = 0; i < length; i++) {
            if (values[i] < 0 || values[i] > 0xffff_ffffL) {
                throw invalid(in, key + "." + i, values[i] + ", outside 0..4294967295");
            }
            result[i] = (int) values[i];
        }
        return result;
    }

    /** A 64-bit linear address that is canonical (bits 63:47 all equal), as the CPU requires of it. */
    public static long canonical(StateReader in, String key) throws SnapshotException {
        long value = in.getLong(key);
        if ((value << 16 >> 16) != value) {
            throw invalid(in, key, "0x" + Long.toHexString(value) + ", not a canonical address");
        }
        return value;
    }

    /** An instant at or before {@code now}, as {@code key} = how long before. */
    public static void putSince(StateWriter out, String key, long instant, long now) {
        out.putLong(key, now - instant);
    }

    public static long getSince(StateReader in, String key, long now) throws SnapshotException {
        return now - in.getLong(key, 0, TIME_LIMIT);
    }

    /** An instant to come (or overdue), or {@link #NEVER}, as {@code key} = how long after {@code now}. */
    public static void putUntil(StateWriter out, String key, long instant, long now) {
        out.putLong(key, instant == NEVER ? NEVER : instant - now);
    }

    public static long getUntil(StateReader in, String key, long now) throws SnapshotException {
        long relative = in.getLong(key);
        if (relative == NEVER) {
            return NEVER;
        }
        if (relative < -TIME_LIMIT || relative > TIME_LIMIT) {
            throw invalid(in, key, relative + ", beyond +-" + TIME_LIMIT + " ns (use " + NEVER + " for never)");
        }
        return now + relative;
    }

    /** The exception for field {@code key} of {@code in}, in {@link StateReader}'s words. */
    public static SnapshotException invalid(StateReader in, String key, String why) {
        String name = in.path().isEmpty() ? key : in.path() + "." + key;
        return new SnapshotException("snapshot field " + name + " is " + why);
    }
}
