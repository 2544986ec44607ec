package io.vmguard.arch.x86;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A Multiboot (version 1) kernel: a 32-bit ELF, or any image with the a.out kludge addresses, whose first
 * 8 KiB hold the Multiboot header. It is loaded by its program headers (or the header's addresses), given
 * the Multiboot information structure (memory sizes, the E820 map as a memory map, the command line, the
 * initrd as module 0, the boot loader's name) and entered as the specification says: 32-bit protected
 * mode with flat segments, paging and interrupts off, EAX = 0x2BADB002, EBX = the information's address.
 *
 * <p>Guest-physical layout: the information structure and its memory map at {@link #INFO}, the command
 * line at {@link X86Layout#CMDLINE}, a flat 32-bit GDT at {@link X86Layout#BOOT_GDT}, the kernel where it
 * asks (from 1 MiB up), the module after it on a page boundary.
 */
public final class MultibootKernel {
    static final int HEADER_MAGIC = 0x1BADB002;
    public static final int BOOTLOADER_MAGIC = 0x2BADB002;
    private static final int SEARCH_LIMIT = 8192;
    /** Flag bits a kernel may require: 0 page-aligned modules, 1 memory information; 16 the a.out kludge. */
    private static final int FLAG_PAGE_ALIGN = 1, FLAG_MEMORY = 1 << 1, FLAG_VIDEO = 1 << 2, FLAG_ADDRESSES = 1 << 16;
    private static final int INFO_MEMORY = 1, INFO_CMDLINE = 1 << 2, INFO_MODULES = 1 << 3, INFO_MMAP = 1 << 6,
            INFO_LOADER_NAME = 1 << 9;
    public static final long INFO = 0x7000;
    private static final long MMAP = INFO + 0x100;
    private static final long MODULES = INFO + 0xa00;
    private static final long STRINGS = INFO + 0xb00;
    private static final long INFO_END = 0x8000;
    private static final String LOADER_NAME = "vmguard";
    private static final int CODE_SELECTOR = 0x08, DATA_SELECTOR = 0x10;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A loadable piece: {@code fileSize} bytes from {@code offset}, zero-filled to {@code memorySize}. */
    record Piece(long offset, long address, long fileSize, long memorySize) {}

    private final String name;
    private final MemorySegment bytes;
    private final int flags;
    private final long entry;
    private final List<Piece> pieces;

    private MultibootKernel(String name, MemorySegment bytes, int flags, long entry, List<Piece> pieces) {
        this.name = name;
        this.bytes = bytes;
        this.flags = flags;
        this.entry = entry;
        this.pieces = pieces;
    }

    /** The offset of a valid Multiboot header (magic, flags, checksum summing to 0) in the first 8 KiB, if any. */
    static Optional<Long> findHeader(MemorySegment bytes) {
        long end = Math.min(bytes.byteSize(), SEARCH_LIMIT) - 12;
        for (long offset = 0; offset <= end; offset += 4) {
            if (bytes.get(U32, offset) == HEADER_MAGIC
                    && bytes.get(U32, offset) + bytes.get(U32, offset + 4) + bytes.get(U32, offset + 8) == 0) {
                return Optional.of(offset);
            }
        }
        return Optional.empty();
    }

    /** Parses the kernel {@code name} whose Multiboot header is at {@code header}; bad headers are refused. */
    static MultibootKernel parse(String name, MemorySegment bytes, long header) throws KernelLoadException {
        int flags = bytes.get(U32, header + 4);
        int unknownRequired = flags & 0xffff & ~(FLAG_PAGE_ALIGN | FLAG_MEMORY | FLAG_VIDEO);
        if (unknownRequired != 0) {
            throw new KernelLoadException(name + ": its Multiboot header requires features 0x" + Integer.toHexString(unknownRequired)
                    + " that vmguard does not know");
        }
        if ((flags & FLAG_VIDEO) != 0) {
            throw new KernelLoadException(name + ": its Multiboot header requires a video mode (flag 2); vmguard has no display");
        }
        if ((flags & FLAG_ADDRESSES) != 0) {
            return aoutKludge(name, bytes, header, flags);
        }
        return elf32(name, bytes, flags);
    }

    /** The a.out kludge: header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr after the checksum. */
    private static MultibootKernel aoutKludge(String name, MemorySegment bytes, long header, int flags) throws KernelLoadException {
        if (header + 32 > bytes.byteSize()) {
            throw new KernelLoadException(name + ": its Multiboot header is cut off by the end of the file");
        }
        long headerAddress = Integer.toUnsignedLong(bytes.get(U32, header + 12));
        long loadAddress = Integer.toUnsignedLong(bytes.get(U32, header + 16));
        long loadEnd = Integer.toUnsignedLong(bytes.get(U32, header + 20));
        long bssEnd = Integer.toUnsignedLong(bytes.get(U32, header + 24));
        long entry = Integer.toUnsignedLong(bytes.get(U32, header + 28));
        if (loadAddress > headerAddress || headerAddress - loadAddress > header) {
            throw new KernelLoadException(name + ": Multiboot load_addr 0x" + Long.toHexString(loadAddress)
                    + " is above header_addr 0x" + Long.toHexString(headerAddress) + " or before the file's start");
        }
        long offset = header - (headerAddress - loadAddress);
        long fileSize = loadEnd == 0 ? bytes.byteSize() - offset : loadEnd - loadAddress;
        if (loadEnd != 0 && loadEnd < loadAddress || fileSize > bytes.byteSize() - offset) {
            throw new KernelLoadException(name + ": Multiboot load_end_addr 0x" + Long.toHexString(loadEnd)
                    + " is before load_addr or beyond the end of the file");
        }
        long memorySize = bssEnd == 0 ? fileSize : bssEnd - loadAddress;
        if (memorySize < fileSize) {
            throw new KernelLoadException(name + ": Multiboot bss_end_addr 0x" + Long.toHexString(bssEnd) + " is below load_end_addr");
        }
        return new MultibootKernel(name, bytes, flags, entry, List.of(new Piece(offset, loadAddress, fileSize, memorySize)));
    }

    private static MultibootKernel elf32(String name, MemorySegment bytes, int flags) throws KernelLoadException {
        long size = bytes.byteSize();
        boolean elf = size >= 52 && bytes.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN), 0) == 0x7f454c46;
        if (!elf || bytes.get(ValueLayout.JAVA_BYTE, 4) != 1 || bytes.get(ValueLayout.JAVA_BYTE, 5) != 1) {
            throw new KernelLoadException(name + ": a Multiboot kernel without the a.out kludge (flag 16) must be a 32-bit"
                    + " little-endian ELF");
        }
        if (bytes.get(U16, 16) != 2 || bytes.get(U16, 18) != 3) {
            throw new KernelLoadException(name + " is not an i386 executable ELF");
        }
        long entry = Integer.toUnsignedLong(bytes.get(U32, 24));
        long programHeaders = Integer.toUnsignedLong(bytes.get(U32, 28));
        int headerSize = Short.toUnsignedInt(bytes.get(U16, 42));
        int count = Short.toUnsignedInt(bytes.get(U16, 44));
        if (headerSize != 32 || programHeaders > size || (size - programHeaders) / 32 < count) {
            throw new KernelLoadException(name + ": its ELF program headers are malformed or beyond the end of the file");
        }
        List<Piece> pieces = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            long at = programHeaders + 32L * i;
            if (bytes.get(U32, at) != 1) { // PT_LOAD
                continue;
            }
            Piece piece = new Piece(Integer.toUnsignedLong(bytes.get(U32, at + 4)), Integer.toUnsignedLong(bytes.get(U32, at + 12)),
                    Integer.toUnsignedLong(bytes.get(U32, at + 16)), Integer.toUnsignedLong(bytes.get(U32, at + 20)));
            if (piece.offset() > size || piece.fileSize() > size - piece.offset() || piece.memorySize() < piece.fileSize()) {
                throw new KernelLoadException(name + ": ELF segment " + i + " lies beyond the end of the file or is smaller in"
                        + " memory than in the file");
            }
            pieces.add(piece);
        }
        if (pieces.isEmpty()) {
            throw new KernelLoadException(name + " has no loadable ELF segment");
        }
        return new MultibootKernel(name, bytes, flags, entry, List.copyOf(pieces));
    }

    /**
     * Loads the kernel, the module and the information structure into {@code memory}, and returns the
     * entry state. {@code module} may be null.
     */
    BootState load(GuestMemory memory, MemorySegment module, String moduleName, String commandLine) throws KernelLoadException {
        long kernelEnd = X86Layout.HIGH_MEMORY_START;
        for (Piece piece : pieces) {
            long end = piece.address() + piece.memorySize();
            if (piece.address() < X86Layout.HIGH_MEMORY_START || end > X86Layout.MMIO_GAP_START || !memory.contains(piece.address(), piece.memorySize())) {
                throw new KernelLoadException(String.format("%s: a segment at 0x%x-0x%x is outside the RAM a Multiboot kernel may"
                        + " use (from 1 MiB up to the end of RAM below 3 GiB; the guest has %d MiB)", name, piece.address(), end,
                        memory.totalSize() >> 20));
            }
            memory.write(piece.address(), bytes.asSlice(piece.offset(), piece.fileSize()));
            memory.fill(piece.address() + piece.fileSize(), piece.memorySize() - piece.fileSize(), (byte) 0);
            kernelEnd = Math.max(kernelEnd, end);
        }
        boolean entryInside = pieces.stream().anyMatch(p -> entry >= p.address() && entry < p.address() + p.memorySize());
        if (!entryInside) {
            throw new KernelLoadException(name + ": the entry point 0x" + Long.toHexString(entry) + " is in none of its segments");
        }
        byte[] line = commandLine.getBytes(StandardCharsets.US_ASCII);
        if (line.length + 1 > X86Layout.CMDLINE_MAX) {
            throw new KernelLoadException("kernel command line is " + line.length + " bytes; at most " + (X86Layout.CMDLINE_MAX - 1));
        }
        memory.fill(X86Layout.CMDLINE, line.length + 1, (byte) 0);
        memory.write(X86Layout.CMDLINE, line);

        memory.fill(INFO, INFO_END - INFO, (byte) 0);
        MemorySegment info = memory.slice(INFO, INFO_END - INFO);
        int infoFlags = INFO_MEMORY | INFO_CMDLINE | INFO_MMAP | INFO_LOADER_NAME;
        info.set(U32, 4, (int) (lowMemory(memory) >> 10));
        info.set(U32, 8, (int) (upperMemory(memory) >> 10));
        info.set(U32, 12, 0xffff_ffff); // boot_device: none (the field is valid only with flag 1, not set)
        info.set(U32, 16, (int) X86Layout.CMDLINE);
        List<E820Entry> map = E820Map.of(memory);
        long entryAddress = MMAP;
        for (E820Entry e : map) {
            MemorySegment slot = memory.slice(entryAddress, 24);
            slot.set(U32, 0, 20);
            slot.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, e.address());
            slot.set(ValueLayout.JAVA_LONG_UNALIGNED, 12, e.size());
            slot.set(U32, 20, e.type().code());
            entryAddress += 24;
            if (entryAddress + 24 > MODULES) {
                throw new KernelLoadException("the memory map has too many entries for the Multiboot information");
            }
        }
        info.set(U32, 44, (int) (entryAddress - MMAP));
        info.set(U32, 48, (int) MMAP);
        long strings = STRINGS;
        strings = putString(memory, strings, LOADER_NAME);
        info.set(U32, 64, (int) (strings - LOADER_NAME.length() - 1));
        long moduleEnd = kernelEnd;
        if (module != null) {
            long start = (kernelEnd + 4095) & -4096L;
            long size = module.byteSize();
            if (!memory.contains(start, size) || start + size > X86Layout.MMIO_GAP_START) {
                throw new KernelLoadException(String.format("guest memory (%d MiB) is too small for the kernel and a %d KiB module",
                        memory.totalSize() >> 20, size >> 10));
            }
            memory.write(start, module);
            long nameAddress = strings;
            strings = putString(memory, strings, moduleName);
            MemorySegment slot = memory.slice(MODULES, 16);
            slot.set(U32, 0, (int) start);
            slot.set(U32, 4, (int) (start + size));
            slot.set(U32, 8, (int) nameAddress);
            info.set(U32, 20, 1);
            info.set(U32, 24, (int) MODULES);
            infoFlags |= INFO_MODULES;
            moduleEnd = start + size;
        }
        info.set(U32, 0, infoFlags);

        writeGdt(memory);
        Registers registers = Registers.builder()
                .rax(BOOTLOADER_MAGIC)
                .rbx(INFO)
                .rip(entry)
                .rflags(Registers.RFLAGS_RESERVED)
                .build();
        return new BootState(registers, protectedModeRegisters(), moduleEnd, 0, 0);
    }

    private static long putString(GuestMemory memory, long address, String text) throws KernelLoadException {
        byte[] value = text.getBytes(StandardCharsets.US_ASCII);
        if (address + value.length + 1 > INFO_END) {
            throw new KernelLoadException("a Multiboot string is too long: " + text.length() + " characters");
        }
        memory.write(address, value);
        memory.fill(address + value.length, 1, (byte) 0);
        return address + value.length + 1;
    }

    /** RAM from 0 up to the EBDA (mem_lower), in bytes. */
    private static long lowMemory(GuestMemory memory) {
        MemoryRegion first = memory.regions().getFirst();
        return first.start() == 0 ? Math.min(first.end(), X86Layout.EBDA_START) : 0;
    }

    /** Contiguous RAM from 1 MiB up to the first hole (mem_upper), in bytes. */
    private static long upperMemory(GuestMemory memory) {
        for (MemoryRegion region : memory.regions()) {
            if (region.start() <= X86Layout.HIGH_MEMORY_START && region.end() > X86Layout.HIGH_MEMORY_START) {
                return Math.min(region.end(), X86Layout.MMIO_GAP_START) - X86Layout.HIGH_MEMORY_START;
            }
        }
        return 0;
    }

    /** null, flat 32-bit ring-0 code (0x08) and data (0x10): what the entry state's segments were loaded from. */
    private static void writeGdt(GuestMemory memory) {
        MemorySegment gdt = memory.slice(X86Layout.BOOT_GDT, 24);
        gdt.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0);
        gdt.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 0x00cf_9b00_0000_ffffL);
        gdt.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, 0x00cf_9300_0000_ffffL);
    }

    /** 32-bit protected mode, flat 4 GiB segments, paging off (Multiboot specification, "Machine state"). */
    static SpecialRegisters protectedModeRegisters() {
        Segment code = new Segment(0, 0xffff_ffff, CODE_SELECTOR, 0xb, true, 0, true, true, false, true, false, false);
        Segment data = new Segment(0, 0xffff_ffff, DATA_SELECTOR, 0x3, true, 0, true, true, false, true, false, false);
        Segment tss = new Segment(0, 0x67, 0, 0xb, true, 0, false, false, false, false, false, false);
        return new SpecialRegisters(code, data, data, data, data, data, tss, Segment.unusableLdt(),
                new DescriptorTable(X86Layout.BOOT_GDT, 23), new DescriptorTable(0, 0),
                SpecialRegisters.CR0_PE | SpecialRegisters.CR0_ET, 0, 0, 0, 0, 0,
                LocalApic.DEFAULT_BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP);
    }
}
