package io.vmguard.engine.interp.monitor;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorListener;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;

import java.util.BitSet;
import java.util.EnumSet;
import java.util.Set;

/**
 * The interpreter traps everything in the contract, before the guest's next instruction: it executes every
 * instruction itself. One per VM, shared by its vCPUs. What is armed is one immutable {@link Armed} read
 * through a volatile field, so an unarmed check costs one load and a null test.
 *
 * <p>Code executions are asked about where the vCPU decodes: a frame is approved when it first holds decoded
 * code (or, for an instruction that cannot be cached, a marker that it was approved), and a write by a vCPU or a
 * device drops that, so the next execution decodes and asks again ({@code InterpVcpu#fetch}). Cached blocks cost
 * nothing more; only a block being decoded pays the look at the plan.
 */
public final class InterpMonitoring implements Monitoring {
    /** The plan as the vCPUs test it: flat arrays, no boxing. */
    public record Armed(long[] frames, int controlRegisterMask, int[] msrs, boolean descriptorTables, long[] systemCalls,
                 boolean codeExecutions, MonitorListener listener) {
        public boolean watchesFrame(long physicalPage) {
            long frame = physicalPage >>> 12;
            int word = (int) (frame >>> 6);
            return frame >= 0 && word < frames.length && (frames[word] & (1L << frame)) != 0;
        }

        boolean watchesControlRegister(int register) {
            return (controlRegisterMask & (1 << register)) != 0;
        }

        boolean watchesMsr(int index) {
            for (int msr : msrs) {
                if (msr == index) {
                    return true;
                }
            }
            return false;
        }

        boolean watchesSystemCall(long number) {
            return number >= 0 && number < (long) systemCalls.length * 64 && (systemCalls[(int) (number >>> 6)] & (1L << number)) != 0;
        }
    }

    private volatile Armed armed;
    /** Bumped on every arm/disarm: a vCPU seeing a new value drops its cached write translations. */
    private volatile int generation;
    /**
     * Bumped (before {@link #generation}) when code executions are armed afresh: a vCPU seeing a new value drops
     * its decoded code, whose frames no listener of this plan approved.
     */
    private volatile int codeEpoch;
    private final BitSet written = new BitSet();
    /** Rings the vCPUs' doorbell: each leaves its block and takes the new plan before its next instruction. */
    private final Runnable kickVcpus;

    public InterpMonitoring(Runnable kickVcpus) {
        this.kickVcpus = kickVcpus;
    }

    @Override
    public Set<TrapKind> traps() {
        return EnumSet.allOf(TrapKind.class);
    }

    @Override
    public synchronized void arm(MonitorPlan plan, MonitorListener listener) {
        int controlRegisters = 0;
        for (int register : plan.controlRegisters()) {
            if (register < 0 || register > 15) {
                throw new IllegalArgumentException("no control register CR" + register);
            }
            controlRegisters |= 1 << register;
        }
        int[] msrs = plan.msrs().stream().mapToInt(Integer::intValue).toArray();
        Armed previous = armed;
        // Same listener, still asking: its approvals stand. Otherwise frames decoded so far were never asked about.
        if (plan.codeExecutions() && !(previous != null && previous.codeExecutions() && previous.listener() == listener)) {
            codeEpoch++;
        }
        armed = new Armed(plan.watchedFrames().toLongArray(), controlRegisters, msrs, plan.descriptorTables(),
                plan.systemCalls().toLongArray(), plan.codeExecutions(), listener);
        generation++;
        kickVcpus.run();
    }

    @Override
    public synchronized void disarm() {
        armed = null;
        generation++;
        kickVcpus.run();
    }

    @Override
    public BitSet takeWrittenFrames() {
        synchronized (written) {
            BitSet frames = (BitSet) written.clone();
            written.clear();
            return frames;
        }
    }

    public Armed armed() {
        return armed;
    }

    public int generation() {
        return generation;
    }

    public int codeEpoch() {
        return codeEpoch;
    }

    /** Called by a vCPU for a write to a page the armed plan watches. */
    public void frameWritten(Armed plan, MonitorEvent.PhysicalWrite event) {
        synchronized (written) {
            written.set((int) (event.address() >>> 12));
        }
        plan.listener().onEvent(event);
    }
}
