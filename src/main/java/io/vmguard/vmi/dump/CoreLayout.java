package io.vmguard.vmi.dump;

import io.vmguard.vmi.PhysicalMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Where everything goes in the core file: ELF header, program headers (PT_NOTE first, then a PT_LOAD per RAM
 * range), the notes, then guest memory range after range.
 *
 * <p>One difference from QEMU: memory starts at the next page boundary after the notes instead of right
 * after them, so that page-sized runs of zeros can stay holes in the file and a reader can map pages.
 * p_align stays 0, as in QEMU's files: crash takes p_align 0 (or an unaligned first PT_LOAD) as a kdump-style
 * ELF core, the reader QEMU dumps go through.
 */
record CoreLayout(List<ElfNote> notes, int notesBytes, List<LoadSegment> loads, long memoryOffset) {
    static final int EHDR_BYTES = 64;
    static final int PHDR_BYTES = 56;
    static final long PAGE = 4096;
    /** e_phnum is 16 bits and 0xffff (PN_XNUM) means "see section 0"; no guest has anywhere near that many ranges. */
    static final int MAX_PROGRAM_HEADERS = 0xfffe;

    private static final short ET_CORE = 4;
    private static final short EM_X86_64 = 62;
    private static final int PT_LOAD = 1;
    private static final int PT_NOTE = 4;

    /** A RAM range and where its bytes start in the file. */
    record LoadSegment(long guestPhysical, long size, long fileOffset) {}

    CoreLayout {
        notes = List.copyOf(notes);
        loads = List.copyOf(loads);
    }

    static CoreLayout of(List<PhysicalMemory.Range> ranges, List<ElfNote> notes) throws DumpException {
        if (ranges.size() + 1 > MAX_PROGRAM_HEADERS) {
            throw new DumpException("guest memory has " + ranges.size() + " RAM ranges, more than an ELF core file's "
                    + (MAX_PROGRAM_HEADERS - 1) + " without extended numbering");
        }
        int notesBytes = notes.stream().mapToInt(ElfNote::size).sum();
        long memoryOffset = alignUp(notesOffset(ranges.size()) + notesBytes, PAGE);
        List<LoadSegment> loads = new ArrayList<>();
        long offset = memoryOffset;
        for (PhysicalMemory.Range range : ranges) {
            loads.add(new LoadSegment(range.start(), range.size(), offset));
            offset += range.size();
        }
        return new CoreLayout(notes, notesBytes, loads, memoryOffset);
    }

    long notesOffset() {
        return notesOffset(loads.size());
    }

    long fileSize() {
        return loads.isEmpty() ? memoryOffset : loads.getLast().fileOffset() + loads.getLast().size();
    }

    long memoryBytes() {
        return loads.stream().mapToLong(LoadSegment::size).sum();
    }

    /** The ELF header and program headers. */
    ByteBuffer headers() {
        int programHeaders = 1 + loads.size();
        ByteBuffer out = ByteBuffer.allocate(EHDR_BYTES + PHDR_BYTES * programHeaders).order(ByteOrder.LITTLE_ENDIAN);
        out.put(new byte[] {0x7f, 'E', 'L', 'F', 2 /* ELFCLASS64 */, 1 /* ELFDATA2LSB */, 1 /* EV_CURRENT */});
        out.position(16);
        out.putShort(ET_CORE).putShort(EM_X86_64).putInt(1 /* EV_CURRENT */)
                .putLong(0 /* e_entry */).putLong(EHDR_BYTES /* e_phoff */).putLong(0 /* e_shoff */)
                .putInt(0 /* e_flags */).putShort((short) EHDR_BYTES).putShort((short) PHDR_BYTES)
                .putShort((short) programHeaders).putShort((short) 0).putShort((short) 0).putShort((short) 0);
        // As QEMU: p_flags and p_align 0, the notes segment at virtual and physical address 0.
        putProgramHeader(out, PT_NOTE, notesOffset(), 0, 0, notesBytes);
        for (LoadSegment load : loads) {
            // Without a page-table walk QEMU has no virtual address for a range and writes p_vaddr = p_paddr.
            putProgramHeader(out, PT_LOAD, load.fileOffset(), load.guestPhysical(), load.guestPhysical(), load.size());
        }
        return out.flip();
    }

    ByteBuffer notesSegment() {
        ByteBuffer out = ByteBuffer.allocate(notesBytes);
        for (ElfNote note : notes) {
            note.writeTo(out);
        }
        return out.flip();
    }

    private static void putProgramHeader(ByteBuffer out, int type, long offset, long virtual, long physical, long size) {
        out.putInt(type).putInt(0 /* p_flags */).putLong(offset).putLong(virtual).putLong(physical)
                .putLong(size /* p_filesz */).putLong(size /* p_memsz */).putLong(0 /* p_align */);
    }

    private static long notesOffset(int loadSegments) {
        return EHDR_BYTES + (long) PHDR_BYTES * (1 + loadSegments);
    }

    private static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }
}
