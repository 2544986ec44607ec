package io.vmguard.av.scan;

import io.vmguard.av.db.Target;
import io.vmguard.av.match.FileLayout;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The PE facts ClamAV's signatures use (libclamav/pe.c, cli_peheader and cli_rawaddr): sections with their raw
 * offset aligned down and raw size aligned up to FileAlignment (with ClamAV's fall back to 0x200 when a section
 * is not aligned to it), raw sizes clipped to the file; the entry point as a file offset through the last
 * section holding it, or the RVA itself when it lies in the headers. PE32 and PE32+ alike (checked against
 * clamscan on both: EP, Sx offsets and .mdb section hashes).
 */
final class PeHeaders {
    static final int MAX_SECTIONS = 96;

    private PeHeaders() {
    }

    /** The executable, or null when the MZ file has no valid PE header. */
    static Executable inspect(MemorySegment data) {
        long size = data.byteSize();
        if (!Bytes.has(data, 0x3c, 4)) {
            return null;
        }
        long pe = Bytes.u32le(data, 0x3c);
        if (!Bytes.has(data, pe, 24) || Bytes.u32le(data, pe) != 0x00004550L) {
            return null;
        }
        int count = Bytes.u16le(data, pe + 6);
        int optionalSize = Bytes.u16le(data, pe + 20);
        long optional = pe + 24;
        if (!Bytes.has(data, optional, 64)) {
            return null;
        }
        int magic = Bytes.u16le(data, optional);
        if (magic != 0x10b && magic != 0x20b) {
            return null;
        }
        long entryRva = Bytes.u32le(data, optional + 16);
        long sectionAlign = Bytes.u32le(data, optional + 32);
        long fileAlign = Bytes.u32le(data, optional + 36);
        long headersSize = Bytes.u32le(data, optional + 60);
        long table = optional + optionalSize;
        if (count == 0 || count > MAX_SECTIONS || !Bytes.has(data, table, 40L * count)) {
            return Executable.of(Target.PE, size, headersEntry(entryRva, size, headersSize, sectionAlign), List.of(), magic == 0x10b);
        }
        if (fileAlign != 0x200) {
            for (int i = 0; i < count; i++) {
                long rawSize = Bytes.u32le(data, table + 40L * i + 16);
                long pointer = Bytes.u32le(data, table + 40L * i + 20);
                if (fileAlign != 0 && rawSize != 0 && pointer % fileAlign != 0 && pointer % 0x200 == 0) {
                    fileAlign = 0x200;
                }
            }
        }
        List<FileLayout.Section> sections = new ArrayList<>(count);
        long[] rvas = new long[count];
        for (int i = 0; i < count; i++) {
            long at = table + 40L * i;
            rvas[i] = alignDown(Bytes.u32le(data, at + 12), sectionAlign);
            long raw = alignDown(Bytes.u32le(data, at + 20), fileAlign);
            long rawSize = alignUp(Bytes.u32le(data, at + 16), fileAlign);
            if (rawSize != 0) {
                if (raw >= size) {
                    rawSize = 0;
                } else if (raw + rawSize > size) {
                    rawSize = size - raw;
                }
            }
            sections.add(new FileLayout.Section(raw, rawSize));
        }
        long hdr = alignUp(headersSize, sectionAlign);
        long entry;
        if (entryRva < hdr) {
            entry = entryRva < size ? entryRva : -1;
        } else {
            entry = -1;
            for (int i = count - 1; i >= 0; i--) {
                FileLayout.Section s = sections.get(i);
                if (s.size() != 0 && rvas[i] <= entryRva && s.size() > entryRva - rvas[i]) {
                    entry = entryRva - rvas[i] + s.offset();
                    break;
                }
            }
        }
        return Executable.of(Target.PE, size, entry, sections, magic == 0x10b);
    }

    private static long headersEntry(long entryRva, long size, long headersSize, long sectionAlign) {
        return entryRva < alignUp(headersSize, sectionAlign) && entryRva < size ? entryRva : -1;
    }

    private static long alignDown(long value, long alignment) {
        return alignment != 0 ? value / alignment * alignment : value;
    }

    private static long alignUp(long value, long alignment) {
        return alignment != 0 ? (value / alignment + (value % alignment != 0 ? 1 : 0)) * alignment : value;
    }
}
