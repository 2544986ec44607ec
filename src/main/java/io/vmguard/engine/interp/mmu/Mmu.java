package io.vmguard.engine.interp.mmu;

import io.vmguard.bus.Bus;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Linear-to-physical translation and guest memory access for the interpreter: no paging, 32-bit paging
 * (4 KiB and 4 MiB pages), PAE and 4-level paging, with accessed/dirty bits, U/S, R/W with CR0.WP, NX, and a software TLB of plain arrays.
 *
 * <p>The TLB is direct-mapped and split by access kind (read, write, fetch); a tag holds the linear page
 * number and whether the access was made from user mode, so privilege changes need no flush. Beside each
 * tag is the distance from the linear page to its host page in one segment over all of guest RAM (see
 * {@link PhysicalRam}); a hit is an array compare, an add and one access on that segment, with no
 * allocation. Pages that are not RAM (MMIO) are never cached and go through {@link Physical}.
 */
public final class Mmu {
    public static final int READ = 0, WRITE = 1, FETCH = 2;
    public static final long PAGE_MASK = ~0xfffL;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int TLB_BITS = 10;
    private static final int TLB_SIZE = 1 << TLB_BITS;
    private static final long NO_TAG = -1;
    private static final int LOCAL_SLOTS = 4 * TLB_SIZE;

    private static final long PTE_P = 1, PTE_W = 1 << 1, PTE_U = 1 << 2, PTE_A = 1 << 5, PTE_D = 1 << 6, PTE_PS = 1 << 7;
    private static final long PTE_G = 1 << 8;
    private static final long PTE_NX = 1L << 63;
    private static final long PTE_ADDRESS = 0x000f_ffff_ffff_f000L;
    /** PDPTE bits that must be clear (PAE outside long mode): 2:1, 8:5, 63, and those above 40 physical bits. */
    public static final long PDPTE_RESERVED = 0xffff_ff00_0000_01e6L;
    private static final long CR4_PSE = 1L << 4;

    private static final int PF_PRESENT = 1, PF_WRITE = 2, PF_USER = 4, PF_RESERVED = 8, PF_FETCH = 16;

    /**
     * Where accesses to physical addresses outside RAM go (MMIO), and who must see writes to some RAM pages:
     * decoded code (stale after a write) and a monitor watching the frame.
     */
    public interface Physical {
        long readMmio(long address, int size);

        void writeMmio(long address, int size, long value);

        /** A write changed {@code size} bytes at {@code address} of a page {@link #seesWrites} named. */
        void ramWritten(long address, int size, long oldValue, long newValue);

        /** Whether writes to this RAM page must be seen (it holds decoded instructions, or is watched). */
        boolean seesWrites(long physicalPage);
    }

    private final CpuState cpu;
    private final PhysicalRam ram;
    private final Physical physical;
    /** Moves when a RAM page first holds code on any vCPU: this vCPU's cached writable translations are then stale. */
    private final CodePageEpoch codePages;
    private int codePagesSeen;
    /** Every TLB hit's segment: all of guest RAM ({@link PhysicalRam#span}). */
    private final MemorySegment ramSpan;
    // One array per access kind, not an array of arrays: a hit then costs one load less. Each holds pairs: at
    // slot the tag, at slot + 1 what to add to a linear address of the page for its offset in ramSpan (a
    // hit reads both from one cache line).
    private final long[] readTlb = new long[2 * TLB_SIZE], writeTlb = new long[2 * TLB_SIZE],
            fetchTlb = new long[2 * TLB_SIZE];
    private final long[] fetchPhysicalPages = new long[TLB_SIZE];
    /**
     * The TLB slots filled with translations that are not global since the last full flush, as {@code access << 16
     * | slot}: what a CR3 load must drop. Linux maps its kernel global (CR4.PGE), and loads CR3 about 10,000 times in
     * a boot to the ready marker (two per text_poke, one per context switch); dropping every translation each time
     * cost 400,000 page walks a boot (docs/benchmarks.md#session15-tlb). A slot noted and then refilled with a
     * global translation is dropped anyway, which is allowed: only keeping a stale translation would be wrong.
     */
    private final int[] localSlots = new int[LOCAL_SLOTS];
    private int localSlotCount;
    /** More local translations were filled than {@link #localSlots} holds: the next CR3 load drops everything. */
    private boolean localSlotsOverflowed;
    /** Whether the last walk's leaf entry was global with CR4.PGE set: a CR3 load keeps its translation. */
    private boolean walkedGlobal;

    public Mmu(CpuState cpu, GuestMemory memory, Physical physical, CodePageEpoch codePages) {
        this.cpu = cpu;
        this.ram = new PhysicalRam(memory);
        this.ramSpan = ram.span();
        this.physical = physical;
        this.codePages = codePages;
        this.codePagesSeen = codePages.value();
        flush();
    }

    /** Drops every cached translation (paging-mode and CR4 changes, which is how CR4.PGE's global ones go). */
    public void flush() {
        Arrays.fill(readTlb, NO_TAG);
        Arrays.fill(writeTlb, NO_TAG);
        Arrays.fill(fetchTlb, NO_TAG);
        localSlotCount = 0;
        localSlotsOverflowed = false;
    }

    /** A CR3 load: drops every cached translation but the global ones (CR4.PGE), which the processor may keep. */
    public void flushNonGlobal() {
        if (localSlotsOverflowed) {
            flush();
            return;
        }
        for (int i = 0; i < localSlotCount; i++) {
            int noted = localSlots[i];
            long[] tlb = switch (noted >>> 16) {
                case READ -> readTlb;
                case WRITE -> writeTlb;
                default -> fetchTlb;
            };
            tlb[noted & 0xffff] = NO_TAG;
        }
        localSlotCount = 0;
    }

    /** Drops the translations of one linear page (INVLPG). */
    public void flushPage(long linear) {
        int slot = slot(linear);
        readTlb[slot] = NO_TAG;
        writeTlb[slot] = NO_TAG;
        fetchTlb[slot] = NO_TAG;
    }

    /**
     * Forgets cached writable translations if a RAM page began to hold code (on any vCPU) since the last look:
     * those translations skip the "holds code" check, and a write through one would leave decoded code stale.
     * The vCPU looks before each block, once its code is fetched (so a block that made its own page code sees its
     * own writes to it); another vCPU's write within its block under way races with the page's first execution
     * (see {@code CodeCache}).
     */
    public void seeNewCodePages() {
        int now = codePages.value();
        if (now != codePagesSeen) {
            codePagesSeen = now;
            flushWrites();
        }
    }

    /** Forgets cached writable translations, so writes to pages that now hold code are seen. */
    public void flushWrites() {
        Arrays.fill(writeTlb, NO_TAG);
    }

    /** Where {@code linear}'s page has its tag in a TLB array (its addend is at the next index). */
    private static int slot(long linear) {
        return ((int) (linear >>> 12) & (TLB_SIZE - 1)) << 1;
    }

    private long tag(long linear) {
        return (linear & PAGE_MASK) | ((cpu.cpl + 1) >>> 2); // 1 for CPL 3 (user), 0 for 0..2
    }

    // ---- reads ----

    public int read8(long linear) {
        int slot = slot(linear);
        if (readTlb[slot] == tag(linear) || fill(linear, READ, readTlb, slot)) {
            return ramSpan.get(ValueLayout.JAVA_BYTE, readTlb[slot + 1] + linear) & 0xff;
        }
        return (int) slowRead(linear, 1);
    }

    public int read16(long linear) {
        if ((linear & 0xfff) <= 0xffe) {
            int slot = slot(linear);
            if (readTlb[slot] == tag(linear) || fill(linear, READ, readTlb, slot)) {
                return ramSpan.get(U16, readTlb[slot + 1] + linear) & 0xffff;
            }
        }
        return (int) slowRead(linear, 2);
    }

    public int read32(long linear) {
        if ((linear & 0xfff) <= 0xffc) {
            int slot = slot(linear);
            if (readTlb[slot] == tag(linear) || fill(linear, READ, readTlb, slot)) {
                return ramSpan.get(U32, readTlb[slot + 1] + linear);
            }
        }
        return (int) slowRead(linear, 4);
    }

    public long read64(long linear) {
        if ((linear & 0xfff) <= 0xff8) {
            int slot = slot(linear);
            if (readTlb[slot] == tag(linear) || fill(linear, READ, readTlb, slot)) {
                return ramSpan.get(U64, readTlb[slot + 1] + linear);
            }
        }
        return slowRead(linear, 8);
    }

    /** Reads 1, 2, 4 or 8 bytes, zero-extended. */
    public long read(long linear, int size) {
        return switch (size) {
            case 1 -> read8(linear);
            case 2 -> read16(linear);
            case 4 -> read32(linear) & 0xffff_ffffL;
            default -> read64(linear);
        };
    }

    /**
     * Reads the destination of a read-modify-write with write intent, as the CPU does: a page the write would
     * fault on (read-only, as copy-on-write pages are, or not present) faults here, with the write's error
     * code, before the instruction has changed anything. A plain read would succeed on a read-only page and let
     * the instruction set its flags before its write faulted: ADC or SBB run again after the guest's fault
     * handler would then start from the failed attempt's carry.
     */
    public long readForWrite(long linear, int size) {
        if ((linear & 0xfff) <= 4096 - size) {
            int slot = slot(linear);
            if (writeTlb[slot] == tag(linear) || fill(linear, WRITE, writeTlb, slot)) {
                long at = writeTlb[slot + 1] + linear;
                return switch (size) {
                    case 1 -> ramSpan.get(ValueLayout.JAVA_BYTE, at) & 0xff;
                    case 2 -> ramSpan.get(U16, at) & 0xffff;
                    case 4 -> ramSpan.get(U32, at) & 0xffff_ffffL;
                    default -> ramSpan.get(U64, at);
                };
            }
            // Writable, but not cached for writes (MMIO, a code or watched page): fill's translation checked it.
            return read(linear, size);
        }
        probeWrite(linear, size);
        return read(linear, size);
    }

    /**
     * The physical address an instruction is fetched from (fetch permission: NX applies), through the
     * TLB; -1 when the code is not in RAM.
     */
    public long fetchPhysical(long linear) {
        int slot = slot(linear);
        if (fetchTlb[slot] != tag(linear) && !fill(linear, FETCH, fetchTlb, slot)) {
            return -1;
        }
        return fetchPhysicalPages[slot >>> 1] | (linear & 0xfff);
    }

    /**
     * The RAM page that {@link #fetchPhysical} just translated {@code linear} to (a 4 KiB view); only valid
     * right after that call returned a physical address.
     */
    public MemorySegment fetchedPage(long linear) {
        return ramSpan.asSlice(fetchTlb[slot(linear) + 1] + (linear & PAGE_MASK), 4096);
    }

    /** Whether the 4 KiB page at {@code physicalPage} is RAM (not a device's). */
    public boolean isRam(long physicalPage) {
        return ram.region(physicalPage & PAGE_MASK, 4096) >= 0;
    }

    /** An instruction byte (fetch permission: NX applies). */
    public int fetch8(long linear) {
        int slot = slot(linear);
        if (fetchTlb[slot] == tag(linear) || fill(linear, FETCH, fetchTlb, slot)) {
            return ramSpan.get(ValueLayout.JAVA_BYTE, fetchTlb[slot + 1] + linear) & 0xff;
        }
        return (int) physicalRead(translate(linear, FETCH), 1);
    }

    // ---- writes ----

    public void write8(long linear, int value) {
        int slot = slot(linear);
        if (writeTlb[slot] == tag(linear) || fill(linear, WRITE, writeTlb, slot)) {
            ramSpan.set(ValueLayout.JAVA_BYTE, writeTlb[slot + 1] + linear, (byte) value);
        } else {
            slowWrite(linear, 1, value);
        }
    }

    public void write16(long linear, int value) {
        if ((linear & 0xfff) <= 0xffe) {
            int slot = slot(linear);
            if (writeTlb[slot] == tag(linear) || fill(linear, WRITE, writeTlb, slot)) {
                ramSpan.set(U16, writeTlb[slot + 1] + linear, (short) value);
                return;
            }
        }
        slowWrite(linear, 2, value);
    }

    public void write32(long linear, int value) {
        if ((linear & 0xfff) <= 0xffc) {
            int slot = slot(linear);
            if (writeTlb[slot] == tag(linear) || fill(linear, WRITE, writeTlb, slot)) {
                ramSpan.set(U32, writeTlb[slot + 1] + linear, value);
                return;
            }
        }
        slowWrite(linear, 4, value);
    }

    public void write64(long linear, long value) {
        if ((linear & 0xfff) <= 0xff8) {
            int slot = slot(linear);
            if (writeTlb[slot] == tag(linear) || fill(linear, WRITE, writeTlb, slot)) {
                ramSpan.set(U64, writeTlb[slot + 1] + linear, value);
                return;
            }
        }
        slowWrite(linear, 8, value);
    }

    public void write(long linear, int size, long value) {
        switch (size) {
            case 1 -> write8(linear, (int) value);
            case 2 -> write16(linear, (int) value);
            case 4 -> write32(linear, (int) value);
            default -> write64(linear, value);
        }
    }

    /**
     * Checks that a write of {@code size} bytes at {@code linear} would succeed, faulting now if not, so an
     * instruction can validate its destination before it changes any other state.
     */
    public void probeWrite(long linear, int size) {
        translate(linear, WRITE);
        long last = linear + size - 1;
        if ((last & PAGE_MASK) != (linear & PAGE_MASK)) {
            translate(last, WRITE);
        }
    }

    // ---- implicit supervisor accesses (descriptor tables, TSS, interrupt frames) ----

    /** Reads as the CPU does for its own structures: supervisor access whatever the CPL. */
    public long readSupervisor(long linear, int size) {
        if ((linear & 0xfff) + size <= 4096) {
            return physicalRead(translate(linear, READ, false), size);
        }
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= physicalRead(translate(linear + i, READ, false), 1) << (8 * i);
        }
        return value;
    }

    public void writeSupervisor(long linear, int size, long value) {
        if ((linear & 0xfff) + size <= 4096) {
            physicalWrite(translate(linear, WRITE, false), size, value);
            return;
        }
        long[] physicalAddresses = new long[size];
        for (int i = 0; i < size; i++) {
            physicalAddresses[i] = translate(linear + i, WRITE, false);
        }
        for (int i = 0; i < size; i++) {
            physicalWrite(physicalAddresses[i], 1, value >>> (8 * i));
        }
    }

    /**
     * The RAM page the TLB maps for a {@link #READ} or {@link #WRITE} at {@code linear} (4096 bytes; the access's
     * offset in it is {@code linear & 0xfff}), filling the TLB as an access would and faulting as it would; null
     * when the access must take the element path: MMIO, or a write to a page that holds code or is watched.
     * For string instructions that move whole runs of elements at once.
     */
    public MemorySegment ramPage(long linear, int access) {
        long[] tlb = access == READ ? readTlb : access == WRITE ? writeTlb : fetchTlb;
        int slot = slot(linear);
        if (tlb[slot] == tag(linear) || fill(linear, access, tlb, slot)) {
            return ramSpan.asSlice(tlb[slot + 1] + (linear & PAGE_MASK), 4096);
        }
        return null;
    }

    // ---- TLB ----

    /**
     * A TLB miss: walks (faulting as the access would), and caches the translation when it is RAM (and, for
     * writes, a page nobody watches). False when the access must take the slow path: MMIO, or a write to a
     * page that holds code or is watched.
     */
    private boolean fill(long linear, int access, long[] tlb, int slot) {
        long physicalPage = translate(linear, access) & PAGE_MASK;
        int region = ram.region(physicalPage, 4096);
        if (region < 0) {
            return false;
        }
        if (access == WRITE && physical.seesWrites(physicalPage)) {
            return false;
        }
        long hostPage = ram.spanOffset(region, physicalPage);
        if (hostPage < 0) {
            return false;
        }
        tlb[slot] = tag(linear);
        tlb[slot + 1] = hostPage - (linear & PAGE_MASK);
        if (access == FETCH) {
            fetchPhysicalPages[slot >>> 1] = physicalPage;
        }
        if (!walkedGlobal) {
            noteLocal(access, slot);
        }
        return true;
    }

    private void noteLocal(int access, int slot) {
        if (localSlotCount == localSlots.length) {
            localSlotsOverflowed = true;
        } else {
            localSlots[localSlotCount++] = access << 16 | slot;
        }
    }

    /**
     * A read the TLB cannot serve: MMIO, a TLB miss, or an access that crosses a page. Both pages are
     * translated before either is read, so a fault on the second page leaves no device read behind (device
     * reads can have side effects, and the instruction runs again after the fault is handled).
     */
    private long slowRead(long linear, int size) {
        long first = translate(linear, READ);
        int firstPart = (int) Math.min(size, 4096 - (linear & 0xfff));
        if (firstPart == size) {
            return physicalRead(first, size);
        }
        long second = translate(linear + firstPart, READ);
        return splitRead(first, firstPart) | splitRead(second, size - firstPart) << (8 * firstPart);
    }

    private void slowWrite(long linear, int size, long value) {
        // Translate every page first: a write that faults on its second page must not have done the first.
        long first = translate(linear, WRITE);
        int firstPart = (int) Math.min(size, 4096 - (linear & 0xfff));
        if (firstPart == size) {
            physicalWrite(first, size, value);
            return;
        }
        // The second page's part starts at that page's first byte, not at the access's last byte.
        long second = translate(linear + firstPart, WRITE);
        splitWrite(first, firstPart, value);
        splitWrite(second, size - firstPart, value >>> (8 * firstPart));
    }

    /** Reads {@code count} (1-8) bytes within one page as naturally aligned pieces. */
    private long splitRead(long address, int count) {
        long value = 0;
        for (int done = 0; done < count; ) {
            int size = Bus.piece(address + done, count - done);
            value |= physicalRead(address + done, size) << (8 * done);
            done += size;
        }
        return value;
    }

    private void splitWrite(long address, int count, long value) {
        for (int done = 0; done < count; ) {
            int size = Bus.piece(address + done, count - done);
            physicalWrite(address + done, size, value >>> (8 * done));
            done += size;
        }
    }

    /**
     * Reads 1, 2, 4 or 8 bytes at a physical address. RAM is read as is; a device gets naturally aligned
     * accesses only (an unaligned one is split, as the bus between a CPU and a device splits it).
     */
    public long physicalRead(long address, int size) {
        int region = ram.region(address, size);
        if (region >= 0) {
            return ram.read(region, address, size);
        }
        return (address & (size - 1)) == 0 ? physical.readMmio(address, size) : splitRead(address, size);
    }

    public void physicalWrite(long address, int size, long value) {
        int region = ram.region(address, size);
        if (region >= 0) {
            if (physical.seesWrites(address & PAGE_MASK)) {
                long oldValue = ram.read(region, address, size);
                ram.write(region, address, size, value);
                physical.ramWritten(address, size, oldValue, value);
                return;
            }
            ram.write(region, address, size, value);
            return;
        }
        if ((address & (size - 1)) == 0) {
            physical.writeMmio(address, size, value);
        } else {
            splitWrite(address, size, value);
        }
    }

    // ---- page walk ----

    /** Translates a linear address for an access by the current privilege level, or raises #PF/#GP. */
    public long translate(long linear, int access) {
        return translate(linear, access, cpu.cpl == 3);
    }

    public long translate(long linear, int access, boolean user) {
        walkedGlobal = false;
        if (!cpu.paging()) {
            return linear & 0xffff_ffffL;
        }
        if (cpu.longMode()) {
            if ((linear << 16 >> 16) != linear) {
                throw GuestFault.gp();
            }
            return walk(linear, access, user, cpu.cr3 & PTE_ADDRESS, 3, 8, 9, PTE_ADDRESS);
        }
        linear &= 0xffff_ffffL;
        if ((cpu.cr4 & SpecialRegisters.CR4_PAE) != 0) {
            // PAE: the top two bits pick one of the four PDPTEs loaded with CR3; then a 2-level 9-bit walk.
            long pdpte = cpu.pdpte[(int) (linear >>> 30)];
            if ((pdpte & PTE_P) == 0) {
                throw pageFault(linear, access, user, false, false);
            }
            return walk(linear, access, user, pdpte & PTE_ADDRESS, 1, 8, 9, PTE_ADDRESS);
        }
        return walk(linear, access, user, cpu.cr3 & 0xffff_f000L, 1, 4, 10, 0xffff_f000L);
    }

    /**
     * Walks {@code topLevel + 1} levels of {@code entrySize}-byte entries, each indexed by {@code indexBits}
     * bits of the linear address, from {@code table}: 4-level paging (8-byte entries, 9 bits), the two levels
     * below a PAE PDPTE (the same) and 32-bit paging (4-byte entries, 10 bits, 4 MiB pages with CR4.PSE).
     * Accessed and dirty bits, U/S, R/W with CR0.WP and NX (8-byte entries with EFER.NXE) as hardware does.
     */
    private long walk(long linear, int access, boolean user, long table, int topLevel, int entrySize, int indexBits,
                      long addressMask) {
        boolean wideEntries = entrySize == 8;
        boolean nxEnabled = wideEntries && (cpu.efer & SpecialRegisters.EFER_NXE) != 0;
        boolean largePages = wideEntries || (cpu.cr4 & CR4_PSE) != 0;
        long indexMask = (1L << indexBits) - 1;
        boolean writable = true;
        boolean userOk = true;
        boolean noExecute = false;
        long entryAddress = 0;
        long entry = 0;
        long pageSize = 0;
        for (int level = topLevel; level >= 0; level--) {
            int shift = 12 + indexBits * level;
            entryAddress = table + ((linear >>> shift) & indexMask) * entrySize;
            entry = physicalRead(entryAddress, entrySize);
            if ((entry & PTE_P) == 0) {
                throw pageFault(linear, access, user, false, false);
            }
            if (wideEntries && !nxEnabled && (entry & PTE_NX) != 0) {
                throw pageFault(linear, access, user, true, true);
            }
            writable &= (entry & PTE_W) != 0;
            userOk &= (entry & PTE_U) != 0;
            noExecute |= nxEnabled && (entry & PTE_NX) != 0;
            if ((entry & PTE_A) == 0) {
                if (!setEntryBits(entryAddress, entrySize, entry, PTE_A)) {
                    return translate(linear, access, user); // another CPU changed the entry: walk again
                }
                entry |= PTE_A;
            }
            if (level > 0 && (entry & PTE_PS) != 0 && largePages) {
                if (level == 3) {
                    throw pageFault(linear, access, user, true, true);
                }
                pageSize = 1L << shift;
                break;
            }
            table = entry & addressMask;
            pageSize = 4096;
        }
        boolean allowed = switch (access) {
            case WRITE -> (user ? userOk && writable : writable || (cpu.cr0 & SpecialRegisters.CR0_WP) == 0);
            case FETCH -> !noExecute && (!user || userOk);
            default -> !user || userOk;
        };
        if (!allowed) {
            throw pageFault(linear, access, user, true, false);
        }
        if (access == WRITE && (entry & PTE_D) == 0 && !setEntryBits(entryAddress, entrySize, entry, PTE_D)) {
            return translate(linear, access, user); // another CPU changed the entry: walk again
        }
        walkedGlobal = (entry & PTE_G) != 0 && (cpu.cr4 & SpecialRegisters.CR4_PGE) != 0;
        long frame = (entry & addressMask) & ~(pageSize - 1);
        if (!wideEntries && pageSize > 4096) {
            frame |= ((entry >>> 13) & 0xff) << 32; // PSE-36: bits 39:32 of a 4 MiB page's frame
        }
        return frame | (linear & (pageSize - 1));
    }

    /**
     * Sets accessed or dirty bits in a paging entry as the CPU does, with a locked update: only if the entry
     * still holds {@code entry}, so that another CPU's concurrent change (Linux clears a PTE with XCHG before it
     * frees the page) is never overwritten with the stale entry. False when the entry changed (walk again).
     */
    private boolean setEntryBits(long entryAddress, int entrySize, long entry, long bits) {
        int region = ram.region(entryAddress, entrySize);
        if (region < 0 || !ram.withinWord(region, entryAddress, entrySize)) {
            // Tables in device memory, or a misaligned entry (the CPU never walks one): no atomic to be had.
            physicalWrite(entryAddress, entrySize, entry | bits);
            return true;
        }
        if (!ram.compareAndSet(region, entryAddress, entrySize, entry, entry | bits)) {
            return false;
        }
        if (physical.seesWrites(entryAddress & PAGE_MASK)) {
            physical.ramWritten(entryAddress, entrySize, entry, entry | bits);
        }
        return true;
    }

    // ---- atomic read-modify-write (LOCK), for AtomicAccess ----

    /**
     * The physical address a locked read-modify-write of {@code size} bytes at {@code linear} works on, with
     * write permission checked (and the dirty bit set), or -1 when it cannot be one host atomic: outside RAM,
     * across a page, or across an aligned 8-byte word.
     */
    long atomicTarget(long linear, int size) {
        if ((linear & 0xfff) + size > 4096) {
            return -1;
        }
        long address = translate(linear, WRITE);
        int region = ram.region(address, size);
        return region >= 0 && ram.withinWord(region, address, size) ? address : -1;
    }

    /** Reads an {@link #atomicTarget} with one host atomic load. */
    long atomicRead(long address, int size) {
        return ram.atomicRead(ram.region(address, size), address, size);
    }

    /**
     * Writes {@code value} to an {@link #atomicTarget} if it still holds {@code expected}; false when another CPU
     * changed it since it was read. A write that lands is seen as any write is (decoded code, monitors).
     */
    boolean atomicCompareAndSet(long address, int size, long expected, long value) {
        if (!ram.compareAndSet(ram.region(address, size), address, size, expected, value)) {
            return false;
        }
        if (physical.seesWrites(address & PAGE_MASK)) {
            physical.ramWritten(address, size, expected, value);
        }
        return true;
    }

    private GuestFault pageFault(long linear, int access, boolean user, boolean present, boolean reserved) {
        cpu.cr2 = linear;
        int error = (present ? PF_PRESENT : 0)
                | (reserved ? PF_RESERVED : 0)
                | (access == WRITE ? PF_WRITE : 0)
                | (user ? PF_USER : 0)
                | (access == FETCH && (cpu.efer & SpecialRegisters.EFER_NXE) != 0 ? PF_FETCH : 0);
        return GuestFault.withError(GuestFault.PF, error);
    }

    /** PAE paging outside long mode: the PDPTEs from CR3, as a load of CR3 reads them (no checks: a restore). */
    public void loadPdptesQuietly() {
        boolean legacyPae = cpu.paging() && (cpu.cr4 & SpecialRegisters.CR4_PAE) != 0 && !cpu.longMode();
        for (int i = 0; i < 4; i++) {
            cpu.pdpte[i] = legacyPae ? physicalRead((cpu.cr3 & 0xffff_ffe0L) + 8L * i, 8) : 0;
        }
    }
}
