package io.vmguard.net;

/** A {@link LatencyHistogram} read at one moment: how many, and min / median / p99 / max / mean in nanoseconds. */
public record LatencySummary(long count, long minNanos, long medianNanos, long p99Nanos, long maxNanos, long meanNanos) {
    public static final LatencySummary EMPTY = new LatencySummary(0, 0, 0, 0, 0, 0);
}
