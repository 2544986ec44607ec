package io.vmguard.vmi.integrity;

import static io.vmguard.vmi.integrity.AddressNames.hex;
import static io.vmguard.vmi.integrity.IntegrityChecks.details;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.integrity.KernelFacts.VcpuFacts;
import java.util.Optional;

/**
 * Judges a trapped guest action against the baseline as it happens, on the vCPU's thread: a lookup and a
 * comparison, nothing that walks guest memory. Subjects match {@link IntegrityChecks}'s, so the periodic pass
 * that sees the same change later does not report it twice.
 */
final class TrapClassifier {
    private final KernelFacts baseline;
    private final WatchedRegions regions;
    private final AddressNames names;

    TrapClassifier(KernelFacts baseline, WatchedRegions regions, AddressNames names) {
        this.baseline = baseline;
        this.regions = regions;
        this.names = names;
    }

    Optional<Finding> classify(MonitorEvent event) {
        return switch (event) {
            case MonitorEvent.PhysicalWrite write -> physicalWrite(write);
            case MonitorEvent.ControlRegisterWrite write -> controlRegister(write);
            case MonitorEvent.MsrWrite write -> msr(write);
            case MonitorEvent.DescriptorTableLoad load -> descriptorTable(load);
            case MonitorEvent.SystemCall call -> Optional.empty();
            case MonitorEvent.CodeExecution execution -> Optional.empty();
        };
    }

    private Optional<Finding> physicalWrite(MonitorEvent.PhysicalWrite write) {
        if (write.oldValue() == write.newValue()) {
            return Optional.empty();
        }
        long frameNumber = write.address() >>> 12;
        WatchedRegions.Frame frame = regions.frames().get(frameNumber);
        if (frame == null) {
            return Optional.empty();
        }
        long virtual = frame.virtualAddress() + (write.address() & 0xfff);
        String target = names.nameOf(virtual);
        return Optional.of(new Finding(frame.check(), "frame " + hex(frameNumber << 12),
                frame.check() + " written at " + target + " by the instruction at " + names.nameOf(write.rip()),
                details("vcpu", write.vcpu(), "physical_address", hex(write.address()), "address", hex(virtual),
                        "symbol", target, "size", write.size(), "old", hex(write.oldValue()), "new", hex(write.newValue()),
                        "rip", hex(write.rip()), "rip_symbol", names.nameOf(write.rip()), "cr3", hex(write.cr3()),
                        "trapped", true)));
    }

    private Optional<Finding> controlRegister(MonitorEvent.ControlRegisterWrite write) {
        String who = "vcpu" + write.vcpu();
        boolean wpCleared = write.register() == 0 && (write.oldValue() & SpecialRegisters.CR0_WP) != 0
                && (write.newValue() & SpecialRegisters.CR0_WP) == 0;
        long pinned = IntegrityChecks.CR4_SMEP | IntegrityChecks.CR4_SMAP;
        boolean smepCleared = write.register() == 4 && (write.oldValue() & pinned & ~write.newValue()) != 0;
        if (!wpCleared && !smepCleared) {
            return Optional.empty();
        }
        return Optional.of(new Finding(wpCleared ? "cr0-wp" : "cr4-smep-smap", who,
                who + (wpCleared ? ": CR0.WP cleared" : ": CR4.SMEP/SMAP cleared") + " by the instruction at "
                        + names.nameOf(write.rip()),
                details("vcpu", write.vcpu(), "old", hex(write.oldValue()), "new", hex(write.newValue()),
                        "rip", hex(write.rip()), "rip_symbol", names.nameOf(write.rip()), "cr3", hex(write.cr3()),
                        "trapped", true)));
    }

    private Optional<Finding> msr(MonitorEvent.MsrWrite write) {
        Long expected = vcpu(write.vcpu()).map(v -> v.syscallMsrs().get(write.msr())).orElse(null);
        if (expected == null || expected == write.newValue()) {
            return Optional.empty();
        }
        String who = "vcpu" + write.vcpu();
        String msr = Msr.name(write.msr());
        return Optional.of(new Finding("msr", who + " " + msr, who + ": " + msr + " set to " + names.nameOf(write.newValue())
                + " (baseline " + names.nameOf(expected) + ") by the instruction at " + names.nameOf(write.rip()),
                details("vcpu", write.vcpu(), "msr", msr, "old", hex(write.oldValue()), "new", hex(write.newValue()),
                        "baseline", hex(expected), "new_symbol", names.nameOf(write.newValue()),
                        "rip", hex(write.rip()), "rip_symbol", names.nameOf(write.rip()), "cr3", hex(write.cr3()),
                        "trapped", true)));
    }

    private Optional<Finding> descriptorTable(MonitorEvent.DescriptorTableLoad load) {
        Optional<VcpuFacts> base = vcpu(load.vcpu());
        if (base.isEmpty()) {
            return Optional.empty();
        }
        boolean idt = load.table() == MonitorEvent.Table.IDT;
        long expectedBase = idt ? base.get().idtBase() : base.get().gdtBase();
        int expectedLimit = idt ? base.get().idtLimit() : base.get().gdtLimit();
        if (load.base() == expectedBase && load.limit() == expectedLimit) {
            return Optional.empty();
        }
        String who = "vcpu" + load.vcpu();
        String check = idt ? "idtr" : "gdtr";
        return Optional.of(new Finding(check, who, who + ": " + (idt ? "LIDT" : "LGDT") + " loaded base " + hex(load.base())
                + " (baseline " + hex(expectedBase) + ") at " + names.nameOf(load.rip()),
                details("vcpu", load.vcpu(), "old_base", hex(expectedBase), "new_base", hex(load.base()),
                        "old_limit", expectedLimit, "new_limit", load.limit(), "rip", hex(load.rip()),
                        "rip_symbol", names.nameOf(load.rip()), "cr3", hex(load.cr3()), "trapped", true)));
    }

    private Optional<VcpuFacts> vcpu(int index) {
        return baseline.vcpus().stream().filter(v -> v.index() == index).findFirst();
    }
}
