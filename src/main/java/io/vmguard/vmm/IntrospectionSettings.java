package io.vmguard.vmm;

import io.vmguard.vmi.integrity.IntegrityMonitor;
import java.time.Duration;

/**
 * How a VM is introspected, chosen at start and fixed for its life.
 *
 * @param monitor     run the kernel integrity monitor (baseline, periodic and trapped checks, alarms)
 * @param monitorSettings its period, action on a violation and baseline point
 * @param allowWrites let introspection clients write guest memory (off by default: a read-only observer
 *                    cannot be turned into a tool that changes the guest)
 */
public record IntrospectionSettings(boolean monitor, IntegrityMonitor.Settings monitorSettings, boolean allowWrites) {
    /** Reads only, no monitor: what a VM gets unless its start says otherwise. */
    public static IntrospectionSettings defaults() {
        return new IntrospectionSettings(false, IntegrityMonitor.Settings.defaults(), false);
    }

    public static IntrospectionSettings monitoring(Duration period, IntegrityMonitor.Action action,
                                                   IntegrityMonitor.BaselinePoint baselineAt) {
        return new IntrospectionSettings(true, new IntegrityMonitor.Settings(period, action, baselineAt, 60), false);
    }
}
