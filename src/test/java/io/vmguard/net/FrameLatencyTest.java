package io.vmguard.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FrameLatencyTest {
    @Test
    void percentilesAreWithinTheirBucketOfTheTrueValue() {
        LatencyHistogram histogram = new LatencyHistogram();
        for (long micros = 1; micros <= 1000; micros++) {
            histogram.record(micros * 1000);
        }
        LatencySummary summary = histogram.summary();
        assertEquals(1000, summary.count());
        assertEquals(1_000, summary.minNanos());
        assertEquals(1_000_000, summary.maxNanos());
        assertEquals(500_500, summary.meanNanos());
        assertWithin(500_000, summary.medianNanos(), 0.12);
        assertWithin(990_000, summary.p99Nanos(), 0.12);
    }

    @Test
    void oneValueIsItsOwnMedianAndP99() {
        LatencyHistogram histogram = new LatencyHistogram();
        histogram.record(12_345);
        LatencySummary summary = histogram.summary();
        assertEquals(12_345, summary.medianNanos());
        assertEquals(12_345, summary.p99Nanos());
    }

    @Test
    void bucketsGrowWithTheValueAndNeverLeaveTheArray() {
        int last = -1;
        for (long value = 1; value > 0 && value < Long.MAX_VALUE / 2; value = value * 5 / 4 + 1) {
            int bucket = LatencyHistogram.bucket(value);
            assertTrue(bucket >= last, value + " went to bucket " + bucket + " below " + last);
            assertTrue(LatencyHistogram.lowerBound(bucket) <= value, value + " below its bucket's lower bound");
            last = bucket;
        }
        assertTrue(LatencyHistogram.bucket(Long.MAX_VALUE) < 256);
        assertEquals(0, LatencyHistogram.bucket(-5));
    }

    @Test
    void deliveriesKicksAndInterruptsAreCounted() throws Exception {
        FrameLatency latency = new FrameLatency();
        long arrived = latency.arrived();
        Thread.sleep(5);
        latency.delivered(arrived, true);
        latency.delivered(0, false); // a frame restored from a snapshot: no arrival to measure from
        long kicked = latency.kicked();
        latency.sent(kicked);
        latency.sent(kicked);
        latency.transmitInterrupt();
        FrameLatency.Snapshot snapshot = latency.snapshot();
        assertEquals(1, snapshot.receive().count());
        assertTrue(snapshot.receive().minNanos() >= 5_000_000, snapshot.toString());
        assertEquals(2, snapshot.transmit().count());
        assertEquals(1, snapshot.notifications());
        assertEquals(2, snapshot.interrupts());
    }

    @Test
    void anEmptyHistogramSaysSo() {
        assertEquals(LatencySummary.EMPTY, new LatencyHistogram().summary());
    }

    private static void assertWithin(long expected, long actual, double fraction) {
        assertTrue(Math.abs(actual - expected) <= expected * fraction, "expected about " + expected + ", got " + actual);
    }
}
