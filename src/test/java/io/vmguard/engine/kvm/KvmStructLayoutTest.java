package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.testing.CHeaderCheck;
import io.vmguard.testing.CHeaderCheck.CStruct;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every hand-written struct layout, ioctl number and constant of the KVM engine against the C headers of
 * this machine ({@link CHeaderCheck}). A second test pins the sizes to values checked once by hand, for
 * machines without a C compiler.
 */
class KvmStructLayoutTest {
    private static final List<CStruct> STRUCTS = List.of(
            new CStruct("struct kvm_run", KvmRunLayout.LAYOUT, List.of("exit")),
            new CStruct("struct kvm_regs", KvmRegsLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_sregs", KvmSregsLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_segment", KvmSegmentLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_dtable", KvmDtableLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_userspace_memory_region", KvmUserspaceMemoryRegionLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_cpuid2", KvmCpuid2Layout.LAYOUT, List.of()),
            new CStruct("struct kvm_cpuid_entry2", KvmCpuidEntry2Layout.LAYOUT, List.of()),
            new CStruct("struct kvm_msrs", KvmMsrsLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_msr_entry", KvmMsrEntryLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_fpu", KvmFpuLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_irq_level", KvmIrqLevelLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_pit_config", KvmPitConfigLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_msi", KvmMsiLayout.LAYOUT, List.of()),
            new CStruct("struct sigaction", SigactionLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_lapic_state", KvmLapicStateLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_mp_state", KvmMpStateLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_vcpu_events", KvmVcpuEventsLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_debugregs", KvmDebugregsLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_xsave", KvmXsaveLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_xcr", KvmXcrsLayout.XCR, List.of()),
            new CStruct("struct kvm_xcrs", KvmXcrsLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_irqchip", KvmIrqchipLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_pit_channel_state", KvmPitState2Layout.CHANNEL, List.of()),
            new CStruct("struct kvm_pit_state2", KvmPitState2Layout.LAYOUT, List.of()),
            new CStruct("struct kvm_clock_data", KvmClockDataLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_msr_list", KvmMsrListLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_enable_cap", KvmEnableCapLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_msr_filter_range", KvmMsrFilterRangeLayout.LAYOUT, List.of()),
            new CStruct("struct kvm_msr_filter", KvmMsrFilterLayout.LAYOUT, List.of()));

    private static Map<String, Long> macros() {
        Map<String, Long> macros = new LinkedHashMap<>();
        macros.put("KVM_GET_API_VERSION", KvmIoctls.KVM_GET_API_VERSION);
        macros.put("KVM_CREATE_VM", KvmIoctls.KVM_CREATE_VM);
        macros.put("KVM_CHECK_EXTENSION", KvmIoctls.KVM_CHECK_EXTENSION);
        macros.put("KVM_GET_VCPU_MMAP_SIZE", KvmIoctls.KVM_GET_VCPU_MMAP_SIZE);
        macros.put("KVM_GET_SUPPORTED_CPUID", KvmIoctls.KVM_GET_SUPPORTED_CPUID);
        macros.put("KVM_CREATE_VCPU", KvmIoctls.KVM_CREATE_VCPU);
        macros.put("KVM_SET_USER_MEMORY_REGION", KvmIoctls.KVM_SET_USER_MEMORY_REGION);
        macros.put("KVM_SET_TSS_ADDR", KvmIoctls.KVM_SET_TSS_ADDR);
        macros.put("KVM_SET_IDENTITY_MAP_ADDR", KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR);
        macros.put("KVM_CREATE_IRQCHIP", KvmIoctls.KVM_CREATE_IRQCHIP);
        macros.put("KVM_IRQ_LINE", KvmIoctls.KVM_IRQ_LINE);
        macros.put("KVM_CREATE_PIT2", KvmIoctls.KVM_CREATE_PIT2);
        macros.put("KVM_SIGNAL_MSI", KvmIoctls.KVM_SIGNAL_MSI);
        macros.put("KVM_RUN", KvmIoctls.KVM_RUN);
        macros.put("KVM_GET_REGS", KvmIoctls.KVM_GET_REGS);
        macros.put("KVM_SET_REGS", KvmIoctls.KVM_SET_REGS);
        macros.put("KVM_GET_SREGS", KvmIoctls.KVM_GET_SREGS);
        macros.put("KVM_SET_SREGS", KvmIoctls.KVM_SET_SREGS);
        macros.put("KVM_GET_MSRS", KvmIoctls.KVM_GET_MSRS);
        macros.put("KVM_SET_MSRS", KvmIoctls.KVM_SET_MSRS);
        macros.put("KVM_GET_FPU", KvmIoctls.KVM_GET_FPU);
        macros.put("KVM_SET_FPU", KvmIoctls.KVM_SET_FPU);
        macros.put("KVM_SET_CPUID2", KvmIoctls.KVM_SET_CPUID2);
        macros.put("KVM_GET_MSR_INDEX_LIST", KvmIoctls.KVM_GET_MSR_INDEX_LIST);
        macros.put("KVM_GET_IRQCHIP", KvmIoctls.KVM_GET_IRQCHIP);
        macros.put("KVM_SET_IRQCHIP", KvmIoctls.KVM_SET_IRQCHIP);
        macros.put("KVM_GET_CLOCK", KvmIoctls.KVM_GET_CLOCK);
        macros.put("KVM_SET_CLOCK", KvmIoctls.KVM_SET_CLOCK);
        macros.put("KVM_GET_PIT2", KvmIoctls.KVM_GET_PIT2);
        macros.put("KVM_SET_PIT2", KvmIoctls.KVM_SET_PIT2);
        macros.put("KVM_GET_LAPIC", KvmIoctls.KVM_GET_LAPIC);
        macros.put("KVM_SET_LAPIC", KvmIoctls.KVM_SET_LAPIC);
        macros.put("KVM_GET_MP_STATE", KvmIoctls.KVM_GET_MP_STATE);
        macros.put("KVM_SET_MP_STATE", KvmIoctls.KVM_SET_MP_STATE);
        macros.put("KVM_GET_VCPU_EVENTS", KvmIoctls.KVM_GET_VCPU_EVENTS);
        macros.put("KVM_SET_VCPU_EVENTS", KvmIoctls.KVM_SET_VCPU_EVENTS);
        macros.put("KVM_GET_DEBUGREGS", KvmIoctls.KVM_GET_DEBUGREGS);
        macros.put("KVM_SET_DEBUGREGS", KvmIoctls.KVM_SET_DEBUGREGS);
        macros.put("KVM_GET_XSAVE", KvmIoctls.KVM_GET_XSAVE);
        macros.put("KVM_SET_XSAVE", KvmIoctls.KVM_SET_XSAVE);
        macros.put("KVM_GET_XSAVE2", KvmIoctls.KVM_GET_XSAVE2);
        macros.put("KVM_ENABLE_CAP", KvmIoctls.KVM_ENABLE_CAP);
        macros.put("KVM_X86_SET_MSR_FILTER", KvmIoctls.KVM_X86_SET_MSR_FILTER);
        macros.put("KVM_MSR_FILTER_READ", (long) KvmMsrFilterRangeLayout.FILTER_READ);
        macros.put("KVM_MSR_FILTER_WRITE", (long) KvmMsrFilterRangeLayout.FILTER_WRITE);
        macros.put("KVM_MSR_FILTER_DEFAULT_ALLOW", (long) KvmMsrFilterLayout.DEFAULT_ALLOW);
        macros.put("KVM_MSR_FILTER_MAX_RANGES", (long) KvmMsrFilterLayout.MAX_RANGES);
        macros.put("KVM_MSR_FILTER_MAX_BITMAP_SIZE", (long) KvmMsrFilterLayout.MAX_BITMAP_BYTES);
        macros.put("KVM_MSR_EXIT_REASON_FILTER", KvmMonitoring.EXIT_ON_FILTERED);
        macros.put("KVM_GET_XCRS", KvmIoctls.KVM_GET_XCRS);
        macros.put("KVM_SET_XCRS", KvmIoctls.KVM_SET_XCRS);
        macros.put("KVM_IRQCHIP_PIC_MASTER", (long) KvmIrqchipLayout.PIC_MASTER);
        macros.put("KVM_IRQCHIP_PIC_SLAVE", (long) KvmIrqchipLayout.PIC_SLAVE);
        macros.put("KVM_IRQCHIP_IOAPIC", (long) KvmIrqchipLayout.IOAPIC);
        macros.put("KVM_MP_STATE_RUNNABLE", (long) KvmMpStateLayout.RUNNABLE);
        macros.put("KVM_MP_STATE_UNINITIALIZED", (long) KvmMpStateLayout.UNINITIALIZED);
        macros.put("KVM_MP_STATE_INIT_RECEIVED", (long) KvmMpStateLayout.INIT_RECEIVED);
        macros.put("KVM_MP_STATE_HALTED", (long) KvmMpStateLayout.HALTED);
        macros.put("KVM_MP_STATE_SIPI_RECEIVED", (long) KvmMpStateLayout.SIPI_RECEIVED);
        macros.put("KVM_APIC_REG_SIZE", (long) KvmLapicStateLayout.REGISTER_PAGE_BYTES);
        macros.put("KVM_MAX_XCRS", (long) KvmXcrsLayout.MAX_XCRS);
        for (KvmCapability capability : KvmCapability.values()) {
            macros.put(capability.name(), (long) capability.number());
        }
        macros.put("KVM_EXIT_UNKNOWN", (long) KvmExitReason.UNKNOWN);
        macros.put("KVM_EXIT_IO", (long) KvmExitReason.IO);
        macros.put("KVM_EXIT_DEBUG", (long) KvmExitReason.DEBUG);
        macros.put("KVM_EXIT_HLT", (long) KvmExitReason.HLT);
        macros.put("KVM_EXIT_MMIO", (long) KvmExitReason.MMIO);
        macros.put("KVM_EXIT_SHUTDOWN", (long) KvmExitReason.SHUTDOWN);
        macros.put("KVM_EXIT_FAIL_ENTRY", (long) KvmExitReason.FAIL_ENTRY);
        macros.put("KVM_EXIT_INTR", (long) KvmExitReason.INTR);
        macros.put("KVM_EXIT_INTERNAL_ERROR", (long) KvmExitReason.INTERNAL_ERROR);
        macros.put("KVM_EXIT_SYSTEM_EVENT", (long) KvmExitReason.SYSTEM_EVENT);
        macros.put("KVM_EXIT_X86_RDMSR", (long) KvmExitReason.X86_RDMSR);
        macros.put("KVM_EXIT_X86_WRMSR", (long) KvmExitReason.X86_WRMSR);
        macros.put("KVM_EXIT_NOTIFY", (long) KvmExitReason.NOTIFY);
        macros.put("KVM_EXIT_IO_IN", (long) KvmRunLayout.IO_IN);
        macros.put("KVM_EXIT_IO_OUT", (long) KvmRunLayout.IO_OUT);
        macros.put("KVM_API_VERSION", (long) KvmSystem.API_VERSION);
        return macros;
    }

    @Test
    void layoutsIoctlsAndConstantsMatchTheCHeaders() throws Exception {
        CHeaderCheck.assertMatchesC("kvm", List.of("signal.h", "linux/kvm.h"), STRUCTS, macros());
    }

    @Test
    void layoutSizesMatchTheValuesCheckedAgainstLinux61Headers() {
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (CStruct struct : STRUCTS) {
            sizes.put(struct.cType(), struct.layout().byteSize());
        }
        List<Long> expected = new ArrayList<>(List.of(2352L, 144L, 312L, 24L, 16L, 32L, 8L, 40L, 8L, 16L, 416L, 8L, 64L, 32L, 152L,
                1024L, 4L, 64L, 128L, 4096L, 16L, 392L, 520L, 24L, 112L, 48L, 4L, 104L, 24L, 392L));
        assertEquals(expected, new ArrayList<>(sizes.values()), sizes.toString());
        assertEquals(32, KvmRunLayout.IO_DIRECTION, "the exit union starts at byte 32 of kvm_run");
        assertEquals(0xc008ae05L, KvmIoctls.KVM_GET_SUPPORTED_CPUID);
        assertEquals(0x4020ae46L, KvmIoctls.KVM_SET_USER_MEMORY_REGION);
        assertEquals(0xae80L, KvmIoctls.KVM_RUN);
        assertEquals(0x8090ae81L, KvmIoctls.KVM_GET_REGS);
        assertEquals(0x4138ae84L, KvmIoctls.KVM_SET_SREGS);
        assertEquals(0x4020aea5L, KvmIoctls.KVM_SIGNAL_MSI);
        assertEquals(0x8400ae8eL, KvmIoctls.KVM_GET_LAPIC);
        assertEquals(0x9000aecfL, KvmIoctls.KVM_GET_XSAVE2);
        assertEquals(0xc208ae62L, KvmIoctls.KVM_GET_IRQCHIP);
        assertEquals(0x8208ae63L, KvmIoctls.KVM_SET_IRQCHIP);
        assertEquals(0x4068aea3L, KvmIoctls.KVM_ENABLE_CAP);
        assertEquals(0x4188aec6L, KvmIoctls.KVM_X86_SET_MSR_FILTER);
    }
}
