package io.vmguard.arch.x86;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.SingleXZInputStream;

/**
 * The compressed kernel inside a bzImage ({@code payload_offset}, {@code payload_length}), decompressed by
 * vmguard: the ELF {@code vmlinux} followed by its relocation table, as the kernel's own decompressor would
 * produce it. Why: under the interpreter the decompressor is the longest part of a distribution kernel's boot
 * (Debian's XZ kernel: two thirds of the run, docs/benchmarks.md), and it is the same few loops every boot.
 * XZ (Debian's choice) and gzip (the kernel's default) are known; any other format is left to the guest.
 */
final class BzImagePayload {
    /** The kernel build appends the decompressed size (32-bit little-endian) after the compressed stream. */
    private static final int SIZE_TRAILER = 4;
    /** The most a kernel may decompress to here: a vmlinux with its relocations is tens of megabytes. */
    static final long MAX_DECOMPRESSED = 512L << 20;
    /** XZ's decoder memory: the kernel is compressed with a 32 MiB dictionary; room for twice that. */
    private static final int XZ_MEMORY_LIMIT_KIB = 64 << 10;
    private static final byte[] XZ_MAGIC = {(byte) 0xfd, '7', 'z', 'X', 'Z', 0};
    private static final byte[] GZIP_MAGIC = {0x1f, (byte) 0x8b};
    private static final int PAYLOAD_OFFSET = 0x248;
    private static final int PAYLOAD_LENGTH = 0x24c;

    private BzImagePayload() {}

    /**
     * The decompressed payload, or empty when its format is one vmguard does not decompress (the guest's
     * decompressor then runs). A payload in a known format that does not decompress to its declared size is
     * an error: the guest's decompressor would fail on it too, later and less clearly.
     */
    static Optional<byte[]> decompress(BzImageKernel kernel) throws KernelLoadException {
        String name = "kernel " + kernel.file();
        MemorySegment image = kernel.bytes().asSlice(kernel.kernelOffset(), kernel.kernelSize());
        long offset = Integer.toUnsignedLong(kernel.bytes().get(KernelImage.U32, PAYLOAD_OFFSET));
        long length = Integer.toUnsignedLong(kernel.bytes().get(KernelImage.U32, PAYLOAD_LENGTH));
        if (length <= SIZE_TRAILER || offset > image.byteSize() || length > image.byteSize() - offset) {
            return Optional.empty(); // no payload fields (or none that fit): the guest decompresses
        }
        MemorySegment payload = image.asSlice(offset, length);
        boolean xz = startsWith(payload, XZ_MAGIC);
        if (!xz && !startsWith(payload, GZIP_MAGIC)) {
            return Optional.empty();
        }
        long size = Integer.toUnsignedLong(payload.get(KernelImage.U32, length - SIZE_TRAILER));
        if (size == 0 || size > MAX_DECOMPRESSED) {
            throw new KernelLoadException(String.format("%s is corrupt: its compressed kernel declares %d bytes decompressed (at most %d MiB)",
                    name, size, MAX_DECOMPRESSED >> 20));
        }
        byte[] out = new byte[(int) size];
        try (InputStream in = xz ? new SingleXZInputStream(new SegmentInputStream(payload), XZ_MEMORY_LIMIT_KIB)
                : new GZIPInputStream(new SegmentInputStream(payload), 1 << 16)) {
            int read = in.readNBytes(out, 0, out.length);
            if (read != out.length || in.read() != -1) {
                throw new KernelLoadException(String.format("%s is corrupt: its compressed kernel decompresses to %s bytes, not the %d it declares",
                        name, read != out.length ? String.valueOf(read) : "more than " + out.length, size));
            }
        } catch (IOException e) {
            throw new KernelLoadException(name + " is corrupt: its " + (xz ? "XZ" : "gzip") + " kernel does not decompress ("
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse("") + ")");
        }
        return Optional.of(out);
    }

    private static boolean startsWith(MemorySegment bytes, byte[] magic) {
        if (bytes.byteSize() < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if (bytes.get(ValueLayout.JAVA_BYTE, i) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    /** A memory segment (the mapped kernel file) read as a stream, without copying it to the heap first. */
    private static final class SegmentInputStream extends InputStream {
        private final MemorySegment bytes;
        private long position;

        SegmentInputStream(MemorySegment bytes) {
            this.bytes = bytes;
        }

        @Override
        public int read() {
            return position < bytes.byteSize() ? Byte.toUnsignedInt(bytes.get(ValueLayout.JAVA_BYTE, position++)) : -1;
        }

        @Override
        public int read(byte[] target, int offset, int length) {
            long left = bytes.byteSize() - position;
            if (length == 0) {
                return 0;
            }
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(length, left);
            MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, position, target, offset, n);
            position += n;
            return n;
        }
    }
}
