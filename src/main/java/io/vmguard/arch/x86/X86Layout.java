package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * Where vmguard puts things in an x86-64 guest's physical address space. The low addresses follow
 * Firecracker's choices (they sit below the EBDA in memory no firmware uses, since there is none).
 */
public final class X86Layout {
    /** Boot GDT (null, code64, data, tss). */
    public static final long BOOT_GDT = 0x500;
    /** Boot IDT: empty; the kernel installs its own before enabling interrupts. */
    public static final long BOOT_IDT = 0x520;
    /**
     * The boot loader's {@code setup_data} list for the kernel (one entry: the RNG seed), in the page below the
     * zero page. Linux reserves every setup_data range and the whole first MiB before it allocates anything.
     */
    public static final long SETUP_DATA = 0x6000;
    /** The Linux "zero page": struct boot_params. */
    public static final long ZERO_PAGE = 0x7000;
    /** Initial stack pointer; the kernel switches stacks almost at once. */
    public static final long BOOT_STACK_POINTER = 0x8ff0;
    /** Identity page tables: PML4, one PDPT, then four page directories of 2 MiB pages (the first 4 GiB). */
    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xa000;
    public static final long PAGE_DIRECTORIES = 0xb000;
    public static final int IDENTITY_MAPPED_GIB = 4;
    /** The kernel command line. */
    public static final long CMDLINE = 0x20000;
    public static final int CMDLINE_MAX = 2048;
    /** Room reserved for the command line when a bzImage allows a longer one than {@link #CMDLINE_MAX}. */
    public static final int CMDLINE_REGION = 0x10000;
    /** Start of the extended BIOS data area: RAM below it is usable, the rest of the first MiB is not. */
    public static final long EBDA_START = 0x9fc00;
    /** Where the kernel (bzImage's protected-mode part) is loaded: 1 MiB, as QEMU and Cloud Hypervisor do. */
    public static final long HIGH_MEMORY_START = 0x100000;
    /** The 32-bit MMIO hole: guest RAM skips [3 GiB, 4 GiB) so devices can live there. */
    public static final long MMIO_GAP_START = 0xC000_0000L;
    public static final long MMIO_GAP_END = 0x1_0000_0000L;
    /** ACPI tables (RSDP first): in the BIOS area the kernel scans, and named in boot_params too. */
    public static final long ACPI_TABLES = 0xE0000;
    public static final long ACPI_TABLES_END = 0x100000;
    /**
     * The TPM's event log (the TPM2 table's log area), just below the ACPI tables: RAM vmguard backs but the
     * e820 map does not list, so Linux maps the whole area as it would firmware's reserved memory (a log in
     * ordinary RAM gets one page mapped). 64 KiB, as QEMU reserves.
     */
    public static final long TPM_EVENT_LOG = 0xD0000;
    public static final long TPM_EVENT_LOG_SIZE = 0x10000;

    // The MMIO gap, from the bottom: PCI BAR window, virtio-mmio slots, ECAM, then the x86 fixed devices.
    /** Where the guest-visible 32-bit memory BARs of PCI devices are allocated. */
    public static final long PCI_MMIO_WINDOW = 0xC000_0000L;
    public static final long PCI_MMIO_WINDOW_SIZE = 0x1000_0000L;
    /** virtio-mmio devices, one {@link #VIRTIO_MMIO_SLOT_SIZE} slot each, declared to the guest through ACPI. */
    public static final long VIRTIO_MMIO_BASE = 0xD000_0000L;
    public static final long VIRTIO_MMIO_SLOT_SIZE = 0x1000;
    public static final int VIRTIO_MMIO_MAX_DEVICES = 32;
    /** PCI Express enhanced configuration access (ECAM): 1 MiB per bus, buses 0 to {@link #PCI_LAST_BUS}. */
    public static final long PCI_ECAM = 0xE000_0000L;
    public static final int PCI_LAST_BUS = 0;
    public static final long PCI_ECAM_SIZE = (PCI_LAST_BUS + 1L) << 20;
    /** The x86 fixed devices: I/O APIC and local APIC. */
    public static final long IOAPIC_BASE = 0xFEC0_0000L;
    public static final long LOCAL_APIC_BASE = 0xFEE0_0000L;
    /** Interrupt inputs: ISA IRQs are GSIs 0-15 (edge); devices vmguard adds get 16-23 (level). */
    public static final int FIRST_DEVICE_GSI = 16;
    public static final int GSI_COUNT = 24;

    /** The highest address an initrd may end at when the kernel does not say (boot protocol default). */
    public static final long DEFAULT_INITRD_ADDR_MAX = 0x7fff_ffffL;

    /** The smallest guest vmguard will build: room for boot structures, a kernel and an initrd. */
    public static final long MINIMUM_MEMORY = 16L << 20;

    private X86Layout() {}

    /** Guest RAM ranges for {@code bytes} of memory: below the MMIO gap first, the rest above 4 GiB. */
    public static List<GuestMemory.Range> ramRanges(long bytes) {
        if (bytes < MINIMUM_MEMORY) {
            throw new IllegalArgumentException("guest memory must be at least " + (MINIMUM_MEMORY >> 20) + " MiB");
        }
        List<GuestMemory.Range> ranges = new ArrayList<>();
        long low = Math.min(bytes, MMIO_GAP_START);
        ranges.add(new GuestMemory.Range(0, low));
        if (bytes > low) {
            ranges.add(new GuestMemory.Range(MMIO_GAP_END, bytes - low));
        }
        return ranges;
    }
}
