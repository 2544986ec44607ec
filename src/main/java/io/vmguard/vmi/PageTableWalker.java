package io.vmguard.vmi;

import io.vmguard.engine.SpecialRegisters;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Translates guest-virtual addresses through x86-64 paging structures read from guest-physical memory: 4-level
 * paging, or 5-level when the guest set CR4.LA57; 4 KiB, 2 MiB and 1 GiB pages (Intel SDM vol. 3A §4.5). The
 * tables belong to the guest, so every failure (not present, not RAM, reserved large bit at the top
 * levels, a non-canonical address) is an empty result, never an exception.
 *
 * <p>One walker is used by one thread: it reuses a scratch buffer.
 */
public final class PageTableWalker {
    /** CR4.LA57: 57-bit linear addresses through a fifth level (SDM vol. 3A §2.5). */
    public static final long CR4_LA57 = 1L << 12;

    private static final long ADDRESS_MASK = 0x000f_ffff_ffff_f000L;
    private static final long PRESENT = 1L;
    private static final long WRITABLE = 1L << 1;
    private static final long USER = 1L << 2;
    private static final long LARGE = 1L << 7;
    private static final long NO_EXECUTE = 1L << 63;
    private static final int ENTRIES = 512;

    private final PhysicalMemory memory;
    private final long root;
    private final int levels;
    private final byte[] entry = new byte[8];

    /** A walker from the top-level table at guest-physical {@code root}. */
    public PageTableWalker(PhysicalMemory memory, long root, boolean fiveLevel) {
        this.memory = memory;
        this.root = root & ADDRESS_MASK;
        this.levels = fiveLevel ? 5 : 4;
    }

    /** The walker a vCPU's own address translation uses, or a failure when that vCPU is not in long mode with paging. */
    public static PageTableWalker forVcpu(PhysicalMemory memory, VcpuState vcpu) throws VmiException {
        SpecialRegisters special = vcpu.special();
        if ((special.cr0() & SpecialRegisters.CR0_PG) == 0 || (special.efer() & SpecialRegisters.EFER_LMA) == 0) {
            throw new VmiException("vCPU " + vcpu.index() + " is not in long mode with paging on (CR0=" + hex(special.cr0())
                    + ", EFER=" + hex(special.efer()) + ")");
        }
        return new PageTableWalker(memory, vcpu.pageTableRoot(), (special.cr4() & CR4_LA57) != 0);
    }

    /** The same memory and paging mode from another top-level table (another process's CR3). */
    public PageTableWalker withRoot(long otherRoot) {
        return new PageTableWalker(memory, otherRoot, levels == 5);
    }

    public long root() {
        return root;
    }

    public boolean fiveLevel() {
        return levels == 5;
    }

    /** Where {@code virtualAddress} lands, or empty when it is not canonical or not mapped. */
    public Optional<Translation> translate(long virtualAddress) {
        if (!canonical(virtualAddress)) {
            return Optional.empty();
        }
        long table = root;
        boolean writable = true;
        boolean user = true;
        boolean executable = true;
        for (int level = levels; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            int index = (int) ((virtualAddress >>> shift) & (ENTRIES - 1));
            if (!memory.read(table + index * 8L, entry, 0, 8)) {
                return Optional.empty();
            }
            long value = littleEndianLong(entry, 0);
            if ((value & PRESENT) == 0) {
                return Optional.empty();
            }
            writable &= (value & WRITABLE) != 0;
            user &= (value & USER) != 0;
            executable &= (value & NO_EXECUTE) == 0;
            PageSize leaf = leafSize(level, value);
            if (leaf == null && (value & LARGE) != 0 && level > 1) {
                return Optional.empty(); // PS is reserved in PML5E/PML4E: the CPU would fault
            }
            if (leaf != null) {
                long frame = value & ADDRESS_MASK & ~(leaf.bytes() - 1);
                return Optional.of(new Translation(virtualAddress, frame | leaf.offset(virtualAddress), leaf,
                        writable, user, executable));
            }
            table = value & ADDRESS_MASK;
        }
        throw new AssertionError("level 1 always ends the walk");
    }

    /**
     * The mapped stretches of {@code [start, end)} (both canonical, {@code start < end} unsigned), in ascending
     * order, with abutting pages merged. Reads each table page once, so a 1 GiB window costs at most 513 reads.
     */
    public List<MappedRange> mappedRanges(long start, long end) {
        List<MappedRange> ranges = new ArrayList<>();
        if (Long.compareUnsigned(start, end) >= 0) {
            return ranges;
        }
        visit(root, levels, 0, start, end, ranges);
        return ranges;
    }

    /** A virtually contiguous mapped stretch {@code [start, end)}. */
    public record MappedRange(long start, long end) {
        public long size() {
            return end - start;
        }
    }

    private void visit(long table, int level, long tableBase, long start, long end, List<MappedRange> ranges) {
        byte[] page = new byte[ENTRIES * 8];
        if (!memory.read(table, page, 0, page.length)) {
            return;
        }
        int shift = 12 + 9 * (level - 1);
        long span = 1L << shift;
        for (int index = 0; index < ENTRIES; index++) {
            long raw = tableBase + index * span;
            long entryStart = level == levels ? signExtend(raw) : raw;
            long entryLast = entryStart + span - 1;
            if (Long.compareUnsigned(entryLast, start) < 0 || Long.compareUnsigned(entryStart, end) >= 0) {
                continue;
            }
            long value = littleEndianLong(page, index * 8);
            if ((value & PRESENT) == 0) {
                continue;
            }
            PageSize leaf = leafSize(level, value);
            if (leaf != null) {
                add(ranges, maxUnsigned(entryStart, start), minUnsigned(entryLast, end - 1) + 1);
            } else if ((value & LARGE) == 0) {
                visit(value & ADDRESS_MASK, level - 1, entryStart, start, end, ranges);
            }
        }
    }

    private static void add(List<MappedRange> ranges, long start, long end) {
        if (!ranges.isEmpty() && ranges.getLast().end() == start) {
            ranges.set(ranges.size() - 1, new MappedRange(ranges.getLast().start(), end));
        } else {
            ranges.add(new MappedRange(start, end));
        }
    }

    private static PageSize leafSize(int level, long value) {
        return switch (level) {
            case 1 -> PageSize.SIZE_4K;
            case 2 -> (value & LARGE) != 0 ? PageSize.SIZE_2M : null;
            case 3 -> (value & LARGE) != 0 ? PageSize.SIZE_1G : null;
            default -> null;
        };
    }

    private boolean canonical(long address) {
        int bits = levels == 5 ? 57 : 48;
        return (address << (64 - bits)) >> (64 - bits) == address;
    }

    private long signExtend(long address) {
        int bits = levels == 5 ? 57 : 48;
        return (address << (64 - bits)) >> (64 - bits);
    }

    private static long maxUnsigned(long a, long b) {
        return Long.compareUnsigned(a, b) >= 0 ? a : b;
    }

    private static long minUnsigned(long a, long b) {
        return Long.compareUnsigned(a, b) <= 0 ? a : b;
    }

    static long littleEndianLong(byte[] bytes, int offset) {
        long value = 0;
        for (int i = 7; i >= 0; i--) {
            value = (value << 8) | (bytes[offset + i] & 0xff);
        }
        return value;
    }

    private static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
