package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A Linux kernel file in one of the two formats vmguard boots: an uncompressed ELF {@code vmlinux} or a
 * {@code bzImage} (whose compressed kernel vmguard may decompress itself: {@link UnpackedBzImage}). All are
 * entered through the 64-bit boot protocol, in long mode.
 */
public sealed interface KernelImage permits ElfKernel, BzImageKernel, UnpackedBzImage {
    ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Where the kernel landed and what the boot protocol needs to know about it. */
    record Loaded(long entry, long end, byte[] setupHeader, int commandLineMax, long initrdAddressMax) {}

    /** Copies the kernel into guest memory, checking that every byte it needs fits. */
    Loaded loadInto(GuestMemory memory) throws KernelLoadException;

    /**
     * Reads {@code file} and recognises its format. The file is mapped, not read into the heap: a vmlinux
     * with debug information runs to hundreds of megabytes.
     */
    static KernelImage open(Path file, Arena arena) throws KernelLoadException {
        MemorySegment bytes;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (Files.isDirectory(file)) {
                throw new KernelLoadException("kernel " + file + " is a directory");
            }
            bytes = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
        } catch (NoSuchFileException e) {
            throw new KernelLoadException("kernel " + file + " not found");
        } catch (IOException e) {
            throw new KernelLoadException("cannot read kernel " + file + ": " + e.getMessage());
        }
        if (ElfKernel.matches(bytes)) {
            return ElfKernel.parse(file, bytes);
        }
        if (BzImageKernel.matches(bytes)) {
            return BzImageKernel.parse(file, bytes);
        }
        throw new KernelLoadException("kernel " + file + " is neither an ELF vmlinux nor a bzImage");
    }
}
