package io.vmguard.net;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A lock-free histogram of durations in nanoseconds, in buckets a quarter of an octave wide (each bucket's
 * bounds about 19 % apart), from 1 ns to 2^63: fixed memory whatever is recorded, one atomic add per value.
 * Percentiles come back as the geometric middle of their bucket, so within about 10 % of the true value.
 */
public final class LatencyHistogram {
    private static final int STEPS_PER_OCTAVE = 4;
    private static final int BUCKETS = 64 * STEPS_PER_OCTAVE;
    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong sum = new AtomicLong();
    private final AtomicLong min = new AtomicLong(Long.MAX_VALUE);
    private final AtomicLong max = new AtomicLong();

    /** Counts one duration; a negative one (a clock that went back) counts as 0. */
    public void record(long nanos) {
        long value = Math.max(0, nanos);
        counts.incrementAndGet(bucket(value));
        total.incrementAndGet();
        sum.addAndGet(value);
        min.accumulateAndGet(value, Math::min);
        max.accumulateAndGet(value, Math::max);
    }

    static int bucket(long value) {
        if (value < 1) {
            return 0;
        }
        int octave = 63 - Long.numberOfLeadingZeros(value);
        // The two bits below the top one choose the quarter of the octave.
        int step = octave >= 2 ? (int) ((value >>> (octave - 2)) & 3) : (int) ((value << (2 - octave)) & 3);
        return octave * STEPS_PER_OCTAVE + step;
    }

    /** The smallest value bucket {@code index} holds. */
    static double lowerBound(int index) {
        int octave = index / STEPS_PER_OCTAVE;
        int step = index % STEPS_PER_OCTAVE;
        return Math.scalb(1.0 + step / 4.0, octave);
    }

    public LatencySummary summary() {
        long count = total.get();
        if (count == 0) {
            return LatencySummary.EMPTY;
        }
        long[] copy = new long[BUCKETS];
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            copy[i] = counts.get(i);
            seen += copy[i];
        }
        long low = min.get();
        long high = max.get();
        return new LatencySummary(seen, low, percentile(copy, seen, 0.5, low, high), percentile(copy, seen, 0.99, low, high),
                high, sum.get() / Math.max(1, count));
    }

    /** The value below which {@code fraction} of the counts lie, kept within the recorded min and max. */
    private static long percentile(long[] copy, long seen, double fraction, long low, long high) {
        long rank = (long) Math.ceil(fraction * seen);
        long running = 0;
        for (int i = 0; i < copy.length; i++) {
            running += copy[i];
            if (running >= rank && copy[i] > 0) {
                double middle = Math.sqrt(lowerBound(i) * (i + 1 < BUCKETS ? lowerBound(i + 1) : lowerBound(i) * 1.19));
                return Math.max(low, Math.min(high, Math.round(middle)));
            }
        }
        return high;
    }
}
