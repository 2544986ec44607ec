package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** An uncompressed x86-64 ELF kernel ({@code vmlinux}), loaded by its physical program headers. */
public record ElfKernel(Path file, MemorySegment bytes, long entry, List<Segment> segments) implements KernelImage {
    private static final int ELF_HEADER_SIZE = 64;
    private static final int PROGRAM_HEADER_SIZE = 56;
    private static final byte ELFCLASS64 = 2;
    private static final byte ELFDATA2LSB = 1;
    private static final short ET_EXEC = 2;
    private static final short EM_X86_64 = 62;
    private static final int PT_LOAD = 1;

    /** A PT_LOAD program header: {@code fileSize} bytes at {@code offset} go to guest physical {@code address}. */
    public record Segment(long offset, long address, long fileSize, long memorySize) {}

    static boolean matches(MemorySegment bytes) {
        return bytes.byteSize() >= 4 && bytes.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0) == 0x7f454c46;
    }

    static ElfKernel parse(Path file, MemorySegment bytes) throws KernelLoadException {
        String name = "kernel " + file;
        long size = bytes.byteSize();
        if (size < ELF_HEADER_SIZE) {
            throw new KernelLoadException(name + " is truncated: " + size + " bytes, shorter than an ELF header");
        }
        if (bytes.get(ValueLayout.JAVA_BYTE, 4) != ELFCLASS64 || bytes.get(ValueLayout.JAVA_BYTE, 5) != ELFDATA2LSB) {
            throw new KernelLoadException(name + " is not a 64-bit little-endian ELF");
        }
        if (bytes.get(U16, 16) != ET_EXEC || bytes.get(U16, 18) != EM_X86_64) {
            throw new KernelLoadException(name + " is not an x86-64 executable ELF");
        }
        long entry = bytes.get(U64, 24);
        long programHeaders = bytes.get(U64, 32);
        int programHeaderSize = Short.toUnsignedInt(bytes.get(U16, 54));
        int programHeaderCount = Short.toUnsignedInt(bytes.get(U16, 56));
        if (programHeaderSize != PROGRAM_HEADER_SIZE) {
            throw new KernelLoadException(name + " has program headers of " + programHeaderSize + " bytes, expected 56");
        }
        if (programHeaders < 0 || programHeaders > size || (size - programHeaders) / PROGRAM_HEADER_SIZE < programHeaderCount) {
            throw new KernelLoadException(name + " is truncated: its program headers lie beyond the end of the file");
        }
        List<Segment> segments = new ArrayList<>();
        for (int i = 0; i < programHeaderCount; i++) {
            long header = programHeaders + (long) i * PROGRAM_HEADER_SIZE;
            if (bytes.get(U32, header) != PT_LOAD) {
                continue;
            }
            Segment segment = new Segment(bytes.get(U64, header + 8), bytes.get(U64, header + 24),
                    bytes.get(U64, header + 32), bytes.get(U64, header + 40));
            if (segment.offset() < 0 || segment.fileSize() < 0 || segment.offset() > size
                    || segment.fileSize() > size - segment.offset()) {
                throw new KernelLoadException(name + " is truncated: segment " + i + " needs bytes beyond the end of the file");
            }
            if (Long.compareUnsigned(segment.fileSize(), segment.memorySize()) > 0) {
                throw new KernelLoadException(name + " is corrupt: segment " + i + " has more file bytes than memory bytes");
            }
            segments.add(segment);
        }
        if (segments.isEmpty()) {
            throw new KernelLoadException(name + " has no loadable segments");
        }
        boolean entryLoaded = segments.stream().anyMatch(s -> entry >= s.address() && entry - s.address() < s.memorySize());
        if (!entryLoaded) {
            throw new KernelLoadException(name + " is corrupt: entry point 0x" + Long.toHexString(entry) + " is in no loaded segment");
        }
        return new ElfKernel(file, bytes, entry, List.copyOf(segments));
    }

    @Override
    public Loaded loadInto(GuestMemory memory) throws KernelLoadException {
        long end = 0;
        for (Segment segment : segments) {
            if (segment.address() < X86Layout.HIGH_MEMORY_START) {
                throw new KernelLoadException("kernel " + file + " wants to load at 0x" + Long.toHexString(segment.address())
                        + ", below 1 MiB where the boot structures live");
            }
            if (!memory.contains(segment.address(), segment.memorySize())) {
                throw new KernelLoadException(String.format("kernel %s segment at 0x%x (%d bytes) does not fit in guest memory (%d MiB)",
                        file, segment.address(), segment.memorySize(), memory.totalSize() >> 20));
            }
            MemorySegment target = memory.slice(segment.address(), segment.memorySize());
            MemorySegment.copy(bytes, segment.offset(), target, 0, segment.fileSize());
            target.asSlice(segment.fileSize()).fill((byte) 0);
            end = Math.max(end, segment.address() + segment.memorySize());
        }
        return new Loaded(entry, end, null, X86Layout.CMDLINE_MAX, X86Layout.DEFAULT_INITRD_ADDR_MAX);
    }

    @Override
    public String toString() {
        return "ElfKernel[" + file + ", entry=0x" + Long.toHexString(entry) + ", " + segments.size() + " segments]";
    }
}
