package io.vmguard.av.match;

/** Receives matches from {@link MultiMatcher#scan}; returning false stops the scan. */
@FunctionalInterface
public interface MatchSink {
    /** {@code start} inclusive, {@code end} exclusive (end of the shortest match found from that start). */
    boolean match(int patternId, long start, long end);
}
