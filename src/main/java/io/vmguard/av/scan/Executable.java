package io.vmguard.av.scan;

import io.vmguard.av.db.Target;
import io.vmguard.av.match.FileLayout;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * What a scanned object is, as far as signature targets care: a PE, ELF or Mach-O executable (with the layout
 * its EP and section offsets resolve against) or anything else.
 *
 * @param sectionCount the number of sections, -1 when not an executable
 * @param pe32 a 32-bit PE (PE32, not PE32+). ClamAV's documentation says only PE32 sections are hashed for .mdb
 *     signatures, but clamscan 1.4.6 hashes PE32+ sections too, and so does vmguard
 */
public record Executable(Target type, FileLayout layout, int sectionCount, boolean pe32) {
    /** Detects the type from the first bytes (ClamAV's magic), then parses the headers of PE and ELF files. */
    public static Executable inspect(MemorySegment data) {
        long size = data.byteSize();
        if (size >= 4 && Bytes.u8(data, 0) == 0x7f && Bytes.u8(data, 1) == 'E' && Bytes.u8(data, 2) == 'L' && Bytes.u8(data, 3) == 'F') {
            return ElfHeaders.inspect(data);
        }
        if (size >= 2 && Bytes.u8(data, 0) == 'M' && Bytes.u8(data, 1) == 'Z') {
            Executable pe = PeHeaders.inspect(data);
            if (pe != null) {
                return pe;
            }
        }
        if (size >= 4) {
            long magic = Bytes.u32le(data, 0);
            if (magic == 0xfeedfaceL || magic == 0xfeedfacfL || magic == 0xcefaedfeL || magic == 0xcffaedfeL) {
                // Mach-O load commands are not parsed: target 9 signatures with plain offsets apply, EP/S/SL ones
                // find no entry point or section and do not match.
                return new Executable(Target.MACH_O, FileLayout.raw(size), -1, false);
            }
        }
        return other(size);
    }

    public static Executable other(long size) {
        return new Executable(Target.ANY, FileLayout.raw(size), -1, false);
    }

    static Executable of(Target type, long size, long entryPoint, List<FileLayout.Section> sections, boolean pe32) {
        return new Executable(type, new FileLayout(size, entryPoint, List.copyOf(sections)), sections.size(), pe32);
    }
}
