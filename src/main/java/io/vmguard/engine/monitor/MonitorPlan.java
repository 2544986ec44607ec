package io.vmguard.engine.monitor;

import java.util.BitSet;
import java.util.Set;

/**
 * What to trap. Frames are guest-physical page numbers (address >>> 12): the kernel writes its text through
 * alias mappings, so watching by virtual address would miss them. An empty plan arms nothing.
 *
 * @param watchedFrames    frames whose writes are reported ({@link TrapKind#PHYSICAL_WRITE})
 * @param controlRegisters control registers (0, 3, 4) whose writes are reported
 * @param msrs             MSR indices whose writes are reported
 * @param descriptorTables report LGDT and LIDT
 * @param systemCalls      system-call numbers whose SYSCALL is reported (bit n = number n)
 * @param codeExecutions   ask {@link MonitorListener#beforeExecution} before the first instruction from each frame
 *                         runs, and again after each change to the frame's content ({@link TrapKind#CODE_EXECUTION}).
 *                         Arming such a plan with a listener other than the one armed before starts afresh: every
 *                         frame is asked about again, including those that hold code already
 */
public record MonitorPlan(BitSet watchedFrames, Set<Integer> controlRegisters, Set<Integer> msrs,
                          boolean descriptorTables, BitSet systemCalls, boolean codeExecutions) {
    /** The highest system-call number a plan can select, exclusive (Linux x86-64 has under 512). */
    public static final int MAX_SYSTEM_CALLS = 1024;

    public MonitorPlan {
        watchedFrames = (BitSet) watchedFrames.clone();
        controlRegisters = Set.copyOf(controlRegisters);
        msrs = Set.copyOf(msrs);
        systemCalls = (BitSet) systemCalls.clone();
        if (systemCalls.length() > MAX_SYSTEM_CALLS) {
            throw new IllegalArgumentException("system-call numbers above " + (MAX_SYSTEM_CALLS - 1) + " cannot be watched");
        }
    }

    public static MonitorPlan empty() {
        return new MonitorPlan(new BitSet(), Set.of(), Set.of(), false, new BitSet(), false);
    }

    /** The trap kinds this plan needs. */
    public Set<TrapKind> kinds() {
        var kinds = java.util.EnumSet.noneOf(TrapKind.class);
        if (!watchedFrames.isEmpty()) kinds.add(TrapKind.PHYSICAL_WRITE);
        if (!controlRegisters.isEmpty()) kinds.add(TrapKind.CONTROL_REGISTER_WRITE);
        if (!msrs.isEmpty()) kinds.add(TrapKind.MSR_WRITE);
        if (descriptorTables) kinds.add(TrapKind.DESCRIPTOR_TABLE_LOAD);
        if (!systemCalls.isEmpty()) kinds.add(TrapKind.SYSTEM_CALL);
        if (codeExecutions) kinds.add(TrapKind.CODE_EXECUTION);
        return kinds;
    }

    public MonitorPlan withSystemCalls(BitSet numbers) {
        return new MonitorPlan(watchedFrames, controlRegisters, msrs, descriptorTables, numbers, codeExecutions);
    }

    public MonitorPlan withCodeExecutions(boolean ask) {
        return new MonitorPlan(watchedFrames, controlRegisters, msrs, descriptorTables, systemCalls, ask);
    }
}
