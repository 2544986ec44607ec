package io.vmguard.av.scan;

import io.vmguard.av.db.Target;
import io.vmguard.av.match.FileLayout;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The ELF facts ClamAV's signatures use (libclamav/elf.c): the entry point as a file offset, found through the
 * first program header whose [p_vaddr, p_vaddr + p_memsz) holds e_entry, whatever its type (cli_rawaddr); and
 * the sections from the section header table, in table order, so S0 is the NULL section at offset 0. Headers
 * are stepped by the structure sizes, not e_phentsize/e_shentsize, as ClamAV does. Anything out of the file
 * leaves that part unknown (no entry point, no sections) instead of failing.
 */
final class ElfHeaders {
    private ElfHeaders() {
    }

    static Executable inspect(MemorySegment data) {
        long size = data.byteSize();
        if (!Bytes.has(data, 0, 52)) {
            return Executable.of(Target.ELF, size, -1, List.of(), false);
        }
        boolean wide = Bytes.u8(data, 4) == 2;
        boolean big = Bytes.u8(data, 5) == 2;
        if (wide && !Bytes.has(data, 0, 64)) {
            return Executable.of(Target.ELF, size, -1, List.of(), false);
        }
        long entry = wide ? Bytes.u64(data, 24, big) : Bytes.u32(data, 24, big);
        long phoff = wide ? Bytes.u64(data, 32, big) : Bytes.u32(data, 28, big);
        long shoff = wide ? Bytes.u64(data, 40, big) : Bytes.u32(data, 32, big);
        int phnum = Bytes.u16(data, wide ? 56 : 44, big);
        int shnum = Bytes.u16(data, wide ? 60 : 48, big);
        long entryOffset = entryOffset(data, wide, big, entry, phoff, phnum);
        return Executable.of(Target.ELF, size, entryOffset, sections(data, wide, big, shoff, shnum), false);
    }

    private static long entryOffset(MemorySegment data, boolean wide, boolean big, long entry, long phoff, int phnum) {
        int phsize = wide ? 56 : 32;
        if (phnum == 0 || phoff < 0 || !Bytes.has(data, phoff, (long) phnum * phsize)) {
            return -1;
        }
        for (int i = 0; i < phnum; i++) {
            long at = phoff + (long) i * phsize;
            long offset = wide ? Bytes.u64(data, at + 8, big) : Bytes.u32(data, at + 4, big);
            long vaddr = wide ? Bytes.u64(data, at + 16, big) : Bytes.u32(data, at + 8, big);
            long memsz = wide ? Bytes.u64(data, at + 40, big) : Bytes.u32(data, at + 20, big);
            if (Long.compareUnsigned(vaddr, entry) <= 0 && Long.compareUnsigned(entry - vaddr, memsz) < 0) {
                long fileOffset = entry - vaddr + offset;
                return fileOffset >= 0 ? fileOffset : -1;
            }
        }
        return -1;
    }

    private static List<FileLayout.Section> sections(MemorySegment data, boolean wide, boolean big, long shoff, int shnum) {
        int shsize = wide ? 64 : 40;
        if (shnum == 0 || shoff < 0 || !Bytes.has(data, shoff, (long) shnum * shsize)) {
            return List.of();
        }
        List<FileLayout.Section> sections = new ArrayList<>(shnum);
        for (int i = 0; i < shnum; i++) {
            long at = shoff + (long) i * shsize;
            long offset = wide ? Bytes.u64(data, at + 24, big) : Bytes.u32(data, at + 16, big);
            long length = wide ? Bytes.u64(data, at + 32, big) : Bytes.u32(data, at + 20, big);
            // A hostile 64-bit value must not become a negative offset or size in the layout.
            sections.add(new FileLayout.Section(offset < 0 ? Long.MAX_VALUE : offset, length < 0 ? 0 : length));
        }
        return sections;
    }
}
