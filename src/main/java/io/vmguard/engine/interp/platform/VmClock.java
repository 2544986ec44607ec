package io.vmguard.engine.interp.platform;

/**
 * The VM's monotonic time in nanoseconds. Every timer of the platform (PIT, local APIC, TSC, kvmclock)
 * is expressed in it, so tests can drive the devices with a clock they move by hand.
 */
@FunctionalInterface
public interface VmClock {
    long nanos();

    /**
     * Host monotonic time counted from the moment this clock is made, so VM time starts near zero. A VM's
     * own clock wraps it in a {@link RestorableClock}, so a restored VM's time continues instead.
     */
    static VmClock system() {
        long origin = System.nanoTime();
        return () -> System.nanoTime() - origin;
    }
}
