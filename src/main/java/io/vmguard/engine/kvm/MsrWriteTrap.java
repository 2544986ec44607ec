package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.monitor.MonitorEvent;
import java.lang.foreign.MemorySegment;
import java.util.OptionalLong;

/**
 * Completes, on its vCPU's thread, a guest WRMSR the MSR filter sent to userspace (KVM_EXIT_X86_WRMSR):
 * writes the value with KVM_SET_MSRS (the filter judges only the guest's own accesses, not userspace's),
 * tells the armed listener, and sets kvm_run's {@code msr.error}, from which KVM, at the next entry, either
 * moves the guest past the WRMSR or gives it the #GP the MSR's checks call for (a non-canonical LSTAR, a
 * reserved bit). A refused write changed nothing and is not reported.
 *
 * <p>While the listener runs, the vCPU's RIP still names the WRMSR (KVM moves past it on entry), and the
 * MSR already holds its new value. A write KVM accepts from userspace but would refuse from the guest (a
 * few MSRs, such as locked feature-control bits, are writable by the host only) is applied as the host's.
 */
final class MsrWriteTrap {
    private final KvmVcpu vcpu;
    private final MemorySegment run;
    private final KvmMonitoring monitoring;

    MsrWriteTrap(KvmVcpu vcpu, MemorySegment run, KvmMonitoring monitoring) {
        this.vcpu = vcpu;
        this.run = run;
        this.monitoring = monitoring;
    }

    /**
     * Handles the WRMSR exit in kvm_run. Returns null when the guest may go on, else why it cannot (KVM
     * failing an ioctl on its own vCPU, which is not the guest's doing).
     */
    String complete() {
        int msr = run.get(JAVA_INT, KvmRunLayout.MSR_INDEX);
        long value = run.get(JAVA_LONG, KvmRunLayout.MSR_DATA);
        try {
            OptionalLong old = vcpu.tryReadMsr(msr);
            boolean accepted = vcpu.tryWriteMsr(msr, value);
            run.set(JAVA_BYTE, KvmRunLayout.MSR_ERROR, (byte) (accepted ? 0 : 1));
            if (accepted) {
                report(msr, old.orElse(0), value);
            }
            return null;
        } catch (EngineException e) {
            return String.format("completing the guest's WRMSR to MSR 0x%x: %s", msr, e.getMessage());
        }
    }

    /** The old value is 0 where KVM cannot read the MSR; the new one is what the guest now reads back. */
    private void report(int msr, long oldValue, long written) throws EngineException {
        KvmMonitoring.Armed armed = monitoring.armed();
        if (armed == null || !armed.watches(msr)) {
            return; // trapped by a filter being replaced: done, but nobody asked
        }
        long rip = vcpu.registers().rip();
        long cr3 = vcpu.specialRegisters().cr3();
        long newValue = vcpu.tryReadMsr(msr).orElse(written);
        armed.listener().onEvent(new MonitorEvent.MsrWrite(vcpu.index(), rip, cr3, msr, oldValue, newValue));
    }
}
