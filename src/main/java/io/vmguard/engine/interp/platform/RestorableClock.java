package io.vmguard.engine.interp.platform;

/**
 * The clock of an interpreter VM: a source (host monotonic time, or a test's) plus an offset that a
 * restore sets. Every time the guest can read (TSC, kvmclock, PIT, local APIC timer) derives from the
 * VM clock, and a new process's host time starts anywhere, so a VM restored from a snapshot must see
 * its clock continue from the value it was saved at, not start again near zero: {@link #continueFrom}.
 * Time the VM spent saved does not pass for the guest, as for a paused VM.
 */
public final class RestorableClock implements VmClock {
    private final VmClock source;
    /**
     * Set once, by a restore before any vCPU runs. Volatile so that the vCPU thread's view does not rest
     * on how the VMM hands the restored VM to it.
     */
    private volatile long offset;

    public RestorableClock(VmClock source) {
        this.source = source;
    }

    @Override
    public long nanos() {
        return source.nanos() + offset;
    }

    /** From now on the clock reads {@code nanos} and runs on from there. Only before the VM runs. */
    public void continueFrom(long nanos) {
        offset = nanos - source.nanos();
    }
}
