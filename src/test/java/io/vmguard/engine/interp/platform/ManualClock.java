package io.vmguard.engine.interp.platform;

/** VM time that moves only when a test says so. */
final class ManualClock implements VmClock {
    private long now;

    ManualClock(long start) {
        now = start;
    }

    @Override
    public long nanos() {
        return now;
    }

    void advance(long nanos) {
        now += nanos;
    }

    void set(long nanos) {
        now = nanos;
    }
}
