package io.vmguard.testing;

import io.vmguard.engine.monitor.MonitorListener;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.Set;

/** An engine's monitoring that offers every trap, records what it was armed with, and lets a test raise events. */
public final class FakeMonitoring implements Monitoring {
    public MonitorPlan plan;
    public MonitorListener listener;

    @Override
    public Set<TrapKind> traps() {
        return EnumSet.allOf(TrapKind.class);
    }

    @Override
    public void arm(MonitorPlan newPlan, MonitorListener newListener) {
        plan = newPlan;
        listener = newListener;
    }

    @Override
    public void disarm() {
        plan = null;
        listener = null;
    }

    @Override
    public BitSet takeWrittenFrames() {
        return new BitSet();
    }
}
