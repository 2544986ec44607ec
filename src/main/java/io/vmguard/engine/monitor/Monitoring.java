package io.vmguard.engine.monitor;

import java.util.BitSet;
import java.util.Set;

/**
 * An engine's monitoring side, for one VM. Arming replaces the previous plan as a whole, from any thread;
 * it takes effect on each vCPU before its next instruction (an engine may bounce a running vCPU out of
 * guest code for that).
 */
public interface Monitoring {
    /** What this engine traps. A plan may ask for more; the rest is simply never reported. */
    Set<TrapKind> traps();

    void arm(MonitorPlan plan, MonitorListener listener);

    void disarm();

    /**
     * The watched frames written since the last call (by vCPUs; devices write through the IOMMU, which the
     * plan does not cover), then forgets them. Lets a periodic check re-hash only what changed.
     */
    BitSet takeWrittenFrames();
}
