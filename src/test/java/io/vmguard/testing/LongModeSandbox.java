package io.vmguard.testing;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.Vcpu;
import io.vmguard.memory.GuestMemory;

/**
 * Puts a vCPU straight into 64-bit mode from the VMM, with no guest set-up code: the tables live in
 * guest RAM, the registers are loaded through the engine. This matters on hosts whose ring 0 is
 * emulated slowly and imperfectly: the payload starts in ring 3 (or ring 0, if it asks) at its first
 * instruction.
 *
 * <p>Guest-physical layout (at least 2 MiB of RAM from 0):
 * <pre>
 *   0x1000   GDT: null, ring-0 code 0x08 and data 0x10, ring-3 data 0x1b and code 0x23, TSS 0x28
 *   0x2000   IDT, 256 empty gates unless a test adds one
 *   0x3000   64-bit TSS with an all-zero I/O permission bitmap (every port allowed from ring 3);
 *            RSP0 = 0x8000 (the ring-0 stack at 0x6000-0x7fff, for interrupts from ring 3)
 *   0x10000  PML4, PDPT and four page directories: 0-4 GiB identity-mapped in 2 MiB pages, writable,
 *            user-accessible (U/S) so ring 3 reaches RAM, MMIO windows and the LAPIC; 3-4 GiB uncached
 *   0x100000 the payload; the ring-3 stack grows down from 0x200000
 * </pre>
 */
public final class LongModeSandbox {
    public static final long GDT = 0x1000;
    public static final long IDT = 0x2000;
    public static final long TSS = 0x3000;
    public static final long RING0_STACK_TOP = 0x8000;
    public static final long PML4 = 0x10000;
    public static final long PAYLOAD = 0x100000;
    public static final long STACK_TOP = 0x200000;
    public static final long MIN_MEMORY = 0x200000;

    public static final int KERNEL_CS = 0x08;
    public static final int KERNEL_DS = 0x10;
    public static final int USER_DS = 0x18 | 3;
    public static final int USER_CS = 0x20 | 3;
    public static final int TSS_SELECTOR = 0x28;

    private static final int GDT_LIMIT = 0x38 - 1;
    private static final int IDT_LIMIT = 256 * 16 - 1;
    /** The 104-byte TSS, then an I/O permission bitmap of 65536 bits plus the terminating 0xff byte. */
    private static final int IO_BITMAP = 0x68;
    private static final int TSS_LIMIT = IO_BITMAP + 0x2000;

    private static final long PAGE_PRESENT = 1;
    private static final long PAGE_WRITABLE = 1 << 1;
    private static final long PAGE_USER = 1 << 2;
    private static final long PAGE_WRITE_THROUGH = 1 << 3;
    private static final long PAGE_CACHE_DISABLE = 1 << 4;
    private static final long PAGE_LARGE = 1 << 7;

    public static final long RFLAGS_IF = 1 << 9;
    /**
     * IOPL 3, which on real hardware lets ring 3 use IN/OUT and CLI/STI. Our nested KVM host ignores it
     * (presumably because guest ring 3 runs natively at the host's IOPL 0): only the TSS I/O bitmap allows IN/OUT,
     * and STI in ring 3 faults, so payloads that want interrupts are entered with IF already set.
     */
    public static final long RFLAGS_IOPL3 = 3 << 12;

    public enum Ring { KERNEL, USER }

    private LongModeSandbox() {}

    /** Writes the tables, loads the payload, and sets the vCPU's registers to start it. */
    public static void enter(Vcpu vcpu, GuestMemory memory, Payload payload, Ring ring, boolean interruptsEnabled)
            throws EngineException {
        if (payload.origin() != PAYLOAD) {
            throw new IllegalArgumentException("payload linked at 0x" + Long.toHexString(payload.origin()));
        }
        writeTables(memory);
        memory.write(PAYLOAD, payload.code());
        vcpu.setSpecialRegisters(specialRegisters(vcpu.specialRegisters(), ring));
        long rflags = Registers.RFLAGS_RESERVED | RFLAGS_IOPL3 | (interruptsEnabled ? RFLAGS_IF : 0);
        vcpu.setRegisters(Registers.builder().rip(payload.symbol("_start")).rsp(STACK_TOP).rflags(rflags).build());
    }

    public static void writeTables(GuestMemory memory) {
        long[] gdt = {
                0,
                0x00af9b000000ffffL,   // 0x08 ring-0 code: present, DPL 0, execute/read accessed, L
                0x00cf93000000ffffL,   // 0x10 ring-0 data: present, DPL 0, read/write accessed, 4 GiB
                0x00cff3000000ffffL,   // 0x18 ring-3 data: present, DPL 3, read/write accessed, 4 GiB
                0x00affb000000ffffL,   // 0x20 ring-3 code: present, DPL 3, execute/read accessed, L
        };
        for (int i = 0; i < gdt.length; i++) {
            memory.writeLong(GDT + i * 8L, gdt[i]);
        }
        // 0x28: 16-byte 64-bit TSS descriptor, type 0xb (busy, as TR holds it), present.
        long low = (TSS_LIMIT & 0xffffL) | ((TSS & 0xffffffL) << 16) | (0xbL << 40) | (1L << 47)
                | (((TSS_LIMIT >> 16) & 0xfL) << 48) | (((TSS >> 24) & 0xffL) << 56);
        memory.writeLong(GDT + 0x28, low);
        memory.writeLong(GDT + 0x30, TSS >>> 32);

        memory.fill(IDT, IDT_LIMIT + 1, (byte) 0);
        memory.fill(TSS, TSS_LIMIT + 1, (byte) 0);
        memory.writeLong(TSS + 4, RING0_STACK_TOP);       // RSP0
        memory.writeShort(TSS + 0x66, (short) IO_BITMAP);  // I/O map base
        memory.writeByte(TSS + TSS_LIMIT, (byte) 0xff);     // bitmap terminator; the bitmap itself is zeros: all allowed

        long pdpt = PML4 + 0x1000;
        long firstDirectory = PML4 + 0x2000;
        long tableFlags = PAGE_PRESENT | PAGE_WRITABLE | PAGE_USER;
        memory.fill(PML4, 0x6000, (byte) 0);
        memory.writeLong(PML4, pdpt | tableFlags);
        for (int gib = 0; gib < 4; gib++) {
            long directory = firstDirectory + gib * 0x1000L;
            memory.writeLong(pdpt + gib * 8L, directory | tableFlags);
            long cache = gib == 3 ? PAGE_CACHE_DISABLE | PAGE_WRITE_THROUGH : 0;
            for (int entry = 0; entry < 512; entry++) {
                long address = ((long) gib << 30) | ((long) entry << 21);
                memory.writeLong(directory + entry * 8L, address | tableFlags | PAGE_LARGE | cache);
            }
        }
    }

    /** A 64-bit interrupt gate for {@code vector} to ring-0 {@code handler}. */
    public static void setInterruptGate(GuestMemory memory, int vector, long handler) {
        long low = (handler & 0xffffL) | ((long) KERNEL_CS << 16) | (0xeL << 40) | (1L << 47)
                | (((handler >>> 16) & 0xffffL) << 48);
        memory.writeLong(IDT + vector * 16L, low);
        memory.writeLong(IDT + vector * 16L + 8, handler >>> 32);
    }

    public static SpecialRegisters specialRegisters(SpecialRegisters current, Ring ring) {
        Segment code = ring == Ring.USER
                ? new Segment(0, 0xffffffff, USER_CS, 0xb, true, 3, false, true, true, true, false, false)
                : Segment.code64(KERNEL_CS);
        Segment data = ring == Ring.USER
                ? new Segment(0, 0xffffffff, USER_DS, 0x3, true, 3, true, true, false, true, false, false)
                : Segment.data(KERNEL_DS);
        long cr0 = SpecialRegisters.CR0_PE | SpecialRegisters.CR0_MP | SpecialRegisters.CR0_ET | SpecialRegisters.CR0_NE
                | SpecialRegisters.CR0_WP | SpecialRegisters.CR0_AM | SpecialRegisters.CR0_PG;
        long cr4 = SpecialRegisters.CR4_PAE | SpecialRegisters.CR4_OSFXSR | SpecialRegisters.CR4_OSXMMEXCPT;
        long efer = SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA;
        return new SpecialRegisters(code, data, data, data, data, data,
                Segment.tss(TSS_SELECTOR, TSS, TSS_LIMIT), Segment.unusableLdt(),
                new DescriptorTable(GDT, GDT_LIMIT), new DescriptorTable(IDT, IDT_LIMIT),
                cr0, 0, PML4, cr4, 0, efer, current.apicBase());
    }
}
