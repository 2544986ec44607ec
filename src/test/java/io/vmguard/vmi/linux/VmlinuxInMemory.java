package io.vmguard.vmi.linux;

import io.vmguard.arch.x86.KernelImage;
import io.vmguard.engine.DescriptorTable;
import io.vmguard.memory.GuestMemory;
import io.vmguard.vmi.GuestPhysicalMemory;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.PageSize;
import io.vmguard.vmi.PageTableBuilder;
import io.vmguard.vmi.PhysicalMemory;
import io.vmguard.vmi.TestVcpus;
import io.vmguard.vmi.VcpuState;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;

/**
 * The guest's vmlinux laid out in guest RAM as a boot loader would (PT_LOAD segments at their physical
 * addresses) and mapped at its link-time virtual addresses, optionally moved by a KASLR-like slide. No
 * code runs: the image holds the kallsyms tables, .BTF and the statically initialised data (init_task,
 * the boot CPU's per-CPU area, sys_call_table) that introspection reads.
 */
final class VmlinuxInMemory implements AutoCloseable {
    static final long IMAGE_MAP = 0xffff_ffff_8000_0000L;
    /** Where the test IDT sits: the cpu_entry_area's read-only IDT alias (CPU_ENTRY_AREA_RO_IDT). */
    static final long IDT_ADDRESS = 0xffff_fe00_0000_0000L;

    final GuestMemory ram;
    final PageTableBuilder tables;
    final long idtPhysical;
    private final long slide;

    /**
     * @param slide added to every virtual address of the image mapping; the caller relocates what the
     *              kernel's own relocation would (only kallsyms_relative_base matters to introspection)
     */
    VmlinuxInMemory(Path vmlinux, long slide) throws Exception {
        this.slide = slide;
        try (Arena arena = Arena.ofConfined()) {
            KernelImage image = KernelImage.open(vmlinux, arena);
            long imageEnd = ((io.vmguard.arch.x86.ElfKernel) image).segments().stream()
                    .mapToLong(s -> s.address() + s.memorySize()).max().orElseThrow();
            long mapped = (imageEnd + (2 << 20) - 1) & -(2L << 20);
            ram = GuestMemory.allocate(List.of(new GuestMemory.Range(0, mapped + (4 << 20))));
            image.loadInto(ram);
            tables = new PageTableBuilder(ram, mapped, false);
            tables.mapRange(IMAGE_MAP + slide, 0, mapped, PageSize.SIZE_2M);
            idtPhysical = mapped + (2 << 20);
            tables.map(IDT_ADDRESS, idtPhysical, PageSize.SIZE_4K);
        }
    }

    PhysicalMemory physical() {
        return new GuestPhysicalMemory(ram);
    }

    /** The guest-physical address of image virtual address {@code address} (already slid). */
    long physicalOf(long address) {
        return address - slide - IMAGE_MAP;
    }

    /** One kernel-mode vCPU with the given LSTAR and GS base, the test IDT loaded. */
    GuestView view(long lstar, long gsBase) {
        VcpuState vcpu = TestVcpus.kernelMode(0, tables.root(), false, lstar, gsBase, new DescriptorTable(IDT_ADDRESS, 0xfff));
        PhysicalMemory physical = physical();
        List<VcpuState> vcpus = List.of(vcpu);
        return new GuestView() {
            @Override
            public PhysicalMemory memory() {
                return physical;
            }

            @Override
            public List<VcpuState> vcpus() {
                return vcpus;
            }
        };
    }

    @Override
    public void close() {
        ram.close();
    }
}
