package io.vmguard.vmi.dump;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal ELF64 core reader written from the ELF specification, independent of the writer: the test's
 * own view of what a dump holds.
 */
record ElfCoreFile(Header header, List<ProgramHeader> programHeaders, List<Note> notes, Path path) {
    record Header(byte[] ident, int type, int machine, int version, long phoff, int ehsize, int phentsize, int phnum,
                  long shoff, int shnum) {}

    record ProgramHeader(int type, int flags, long offset, long vaddr, long paddr, long filesz, long memsz, long align) {}

    record Note(String name, int type, byte[] descriptor) {
        ByteBuffer le() {
            return ByteBuffer.wrap(descriptor).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    static ElfCoreFile read(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer e = bytesAt(channel, 0, 64);
            byte[] ident = new byte[16];
            e.get(ident);
            Header header = new Header(ident, Short.toUnsignedInt(e.getShort(16)), Short.toUnsignedInt(e.getShort(18)),
                    e.getInt(20), e.getLong(32), Short.toUnsignedInt(e.getShort(52)), Short.toUnsignedInt(e.getShort(54)),
                    Short.toUnsignedInt(e.getShort(56)), e.getLong(40), Short.toUnsignedInt(e.getShort(60)));
            List<ProgramHeader> phdrs = new ArrayList<>();
            for (int i = 0; i < header.phnum(); i++) {
                ByteBuffer p = bytesAt(channel, header.phoff() + (long) i * header.phentsize(), 56);
                phdrs.add(new ProgramHeader(p.getInt(0), p.getInt(4), p.getLong(8), p.getLong(16), p.getLong(24),
                        p.getLong(32), p.getLong(40), p.getLong(48)));
            }
            List<Note> notes = new ArrayList<>();
            for (ProgramHeader phdr : phdrs) {
                if (phdr.type() == 4) {
                    notes.addAll(parseNotes(bytesAt(channel, phdr.offset(), Math.toIntExact(phdr.filesz()))));
                }
            }
            return new ElfCoreFile(header, phdrs, notes, path);
        }
    }

    List<ProgramHeader> loads() {
        return programHeaders.stream().filter(p -> p.type() == 1).toList();
    }

    List<Note> notes(String name) {
        return notes.stream().filter(n -> n.name().equals(name)).toList();
    }

    byte[] contents(ProgramHeader load) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return bytesAt(channel, load.offset(), Math.toIntExact(load.filesz())).array();
        }
    }

    private static List<Note> parseNotes(ByteBuffer segment) {
        List<Note> notes = new ArrayList<>();
        while (segment.remaining() >= 12) {
            int namesz = segment.getInt();
            int descsz = segment.getInt();
            int type = segment.getInt();
            byte[] name = new byte[namesz];
            segment.get(name);
            segment.position(segment.position() + pad(namesz));
            byte[] desc = new byte[descsz];
            segment.get(desc);
            segment.position(segment.position() + pad(descsz));
            int end = namesz > 0 && name[namesz - 1] == 0 ? namesz - 1 : namesz;
            notes.add(new Note(new String(name, 0, end, StandardCharsets.US_ASCII), type, desc));
        }
        return notes;
    }

    private static int pad(int length) {
        return (4 - length % 4) % 4;
    }

    private static ByteBuffer bytesAt(FileChannel channel, long offset, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, offset + buffer.position()) < 0) {
                throw new IOException("file ends at " + (offset + buffer.position()) + ", wanted " + length + " bytes at " + offset);
            }
        }
        return buffer.flip();
    }
}
