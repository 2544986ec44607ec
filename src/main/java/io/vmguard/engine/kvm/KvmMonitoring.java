package io.vmguard.engine.kvm;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.monitor.MonitorListener;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * What stock KVM lets a userspace VMM trap before the guest's next instruction: WRMSR to chosen MSRs,
 * through an MSR filter that denies the guest those writes (KVM_X86_SET_MSR_FILTER) and
 * KVM_CAP_X86_USER_SPACE_MSR, which turns a denied access into KVM_EXIT_X86_WRMSR instead of a #GP; each
 * vCPU completes such a write itself ({@link MsrWriteTrap}). Stock KVM gives userspace no exit for MOV CR,
 * LGDT/LIDT or SYSCALL, and no write trap on guest frames short of read-only memory slots, so those kinds
 * are not offered: a plan asking for them gets MSR writes only.
 *
 * <p>Arming from any thread. api.rst only promises that a vCPU sees the old filter or the new one
 * ("invoking this ioctl while a vCPU is running is inherently racy"). In x86.c the new filter is published
 * before the ioctl returns, so an intercepted WRMSR handled afterwards is judged by it; but MSRs KVM lets
 * the guest write without an exit (FS/GS bases; on AMD also LSTAR and the other SYSCALL MSRs) are only
 * intercepted once the vCPU re-enters the guest, after handling KVM_REQ_MSR_FILTER_CHANGED (named
 * KVM_REQ_RECALC_INTERCEPTS in recent kernels), and kvm_make_all_cpus_request() sends that request's kick
 * without waiting for it (the request has no KVM_REQUEST_WAIT). So arming also bounces every vCPU out of KVM_RUN and waits until it has
 * left: when arm() returns, no vCPU runs another guest instruction under the old intercepts.
 */
final class KvmMonitoring implements Monitoring {
    /** KVM_MSR_EXIT_REASON_FILTER: exit to userspace for accesses the filter denies, and only for those. */
    static final long EXIT_ON_FILTERED = 1 << 2;

    /** The armed plan as the vCPUs test it. */
    record Armed(int[] msrs, MonitorListener listener) {
        boolean watches(int msr) {
            for (int watched : msrs) {
                if (watched == msr) {
                    return true;
                }
            }
            return false;
        }
    }

    private final KvmVm vm;
    private final boolean supported;
    private volatile Armed armed;
    /**
     * KVM_CAP_X86_USER_SPACE_MSR is enabled before the first filter and never disabled: api.rst asks that
     * it stay on until every filter is gone, or a denied write may become a #GP instead of an exit.
     */
    private boolean exitsEnabled;
    private boolean filterInstalled;

    /** {@code supported}: the kernel has KVM_CAP_X86_USER_SPACE_MSR and KVM_CAP_X86_MSR_FILTER. */
    KvmMonitoring(KvmVm vm, boolean supported) {
        this.vm = vm;
        this.supported = supported;
    }

    @Override
    public Set<TrapKind> traps() {
        return supported ? EnumSet.of(TrapKind.MSR_WRITE) : EnumSet.noneOf(TrapKind.class);
    }

    /**
     * Arms the plan's MSRs (x2APIC MSRs excepted, which KVM cannot filter); a plan without MSRs removes the
     * filter. Throws IllegalArgumentException for MSRs too scattered for KVM's 16 filter ranges, and
     * IllegalStateException when KVM refuses the filter or the VM is closed.
     */
    @Override
    public synchronized void arm(MonitorPlan plan, MonitorListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (!supported) {
            return;
        }
        MsrWriteFilter filter = MsrWriteFilter.denying(plan.msrs());
        // The listener is in place before the filter that leads to it; a write trapped by the old filter
        // meanwhile is still completed, and reported only if the new plan watches it.
        armed = filter.isEmpty() ? null
                : new Armed(plan.msrs().stream().mapToInt(Integer::intValue).toArray(), listener);
        install(filter, true);
    }

    /** Removes the filter; a no-op once the VM is closed (the filter went with it). */
    @Override
    public synchronized void disarm() {
        armed = null;
        if (supported) {
            install(MsrWriteFilter.none(), false);
        }
    }

    /** Always empty: KVM gives this engine no write traps on guest frames yet. */
    @Override
    public BitSet takeWrittenFrames() {
        return new BitSet();
    }

    Armed armed() {
        return armed;
    }

    /** Sets the filter, enabling the exits first if they are not yet, then bounces every vCPU. */
    private void install(MsrWriteFilter filter, boolean closedIsAnError) {
        if (filter.isEmpty() && !filterInstalled) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            boolean open = true;
            if (!exitsEnabled) {
                MemorySegment enable = arena.allocate(KvmEnableCapLayout.LAYOUT);
                KvmEnableCapLayout.write(enable, KvmCapability.KVM_CAP_X86_USER_SPACE_MSR, EXIT_ON_FILTERED);
                open = vm.ioctlIfOpen(KvmIoctls.KVM_ENABLE_CAP, enable, "KVM_ENABLE_CAP KVM_CAP_X86_USER_SPACE_MSR");
                exitsEnabled = open;
            }
            if (open) {
                open = vm.ioctlIfOpen(KvmIoctls.KVM_X86_SET_MSR_FILTER, filter.toStruct(arena), "KVM_X86_SET_MSR_FILTER");
            }
            if (!open) {
                if (closedIsAnError) {
                    throw new IllegalStateException("cannot arm MSR traps: the KVM VM is closed");
                }
                return;
            }
            filterInstalled = !filter.isEmpty();
        } catch (EngineException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        vm.bounceVcpus();
    }
}
