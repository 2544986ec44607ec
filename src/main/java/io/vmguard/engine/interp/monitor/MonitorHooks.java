package io.vmguard.engine.interp.monitor;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.monitor.MonitorEvent;

/**
 * Where system instructions tell an armed monitor what they did. Each hook costs a volatile load and a null
 * test when nothing is armed; they sit on paths (MOV CR, WRMSR, LGDT/LIDT, SYSCALL) that are slow already.
 */
public final class MonitorHooks {
    private final int vcpu;
    private final CpuState cpu;
    private final InterpMonitoring monitoring;

    public MonitorHooks(int vcpu, CpuState cpu, InterpMonitoring monitoring) {
        this.vcpu = vcpu;
        this.cpu = cpu;
        this.monitoring = monitoring;
    }

    /** The instruction at {@code rip} changed CR{@code register}. */
    public void controlRegisterWritten(long rip, int register, long oldValue, long newValue) {
        InterpMonitoring.Armed armed = monitoring.armed();
        if (armed != null && armed.watchesControlRegister(register)) {
            armed.listener().onEvent(new MonitorEvent.ControlRegisterWrite(vcpu, rip, cpu.cr3, register, oldValue, newValue));
        }
    }

    public void msrWritten(long rip, int index, long oldValue, long newValue) {
        InterpMonitoring.Armed armed = monitoring.armed();
        if (armed != null && armed.watchesMsr(index)) {
            armed.listener().onEvent(new MonitorEvent.MsrWrite(vcpu, rip, cpu.cr3, index, oldValue, newValue));
        }
    }

    public void descriptorTableLoaded(long rip, MonitorEvent.Table table, DescriptorTable old, DescriptorTable loaded) {
        InterpMonitoring.Armed armed = monitoring.armed();
        if (armed != null && armed.descriptorTables()) {
            armed.listener().onEvent(new MonitorEvent.DescriptorTableLoad(vcpu, rip, cpu.cr3, table, old.base(),
                    old.limit(), loaded.base(), loaded.limit()));
        }
    }

    /** Before SYSCALL transfers control: RAX holds the number, RDI/RSI/RDX the first arguments. */
    public void systemCall(long rip) {
        InterpMonitoring.Armed armed = monitoring.armed();
        if (armed != null && armed.watchesSystemCall(cpu.gpr[CpuState.RAX])) {
            armed.listener().onEvent(new MonitorEvent.SystemCall(vcpu, rip, cpu.cr3, cpu.gpr[CpuState.RAX],
                    cpu.gpr[CpuState.RDI], cpu.gpr[CpuState.RSI], cpu.gpr[CpuState.RDX],
                    cpu.cpl == 0 ? cpu.gsBase : cpu.kernelGsBase));
        }
    }
}
