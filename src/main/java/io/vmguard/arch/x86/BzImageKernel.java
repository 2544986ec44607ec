package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * A bzImage: real-mode setup sectors, then the compressed protected-mode kernel, whose 64-bit entry point
 * sits 0x200 bytes in. The kernel decompresses itself to {@code pref_address} and needs {@code init_size}
 * bytes there; both are checked against guest memory before anything is copied.
 */
public record BzImageKernel(Path file, MemorySegment bytes, long kernelOffset, long kernelSize,
                            long preferredAddress, long initSize, int commandLineSize, long initrdAddressMax)
        implements KernelImage {
    static final int SETUP_HEADER_OFFSET = 0x1f1;
    private static final int BOOT_FLAG = 0x1fe;
    private static final int HEADER_MAGIC = 0x202;
    private static final int PROTOCOL_VERSION = 0x206;
    private static final int XLOADFLAGS = 0x236;
    private static final int SETUP_HEADER_LIMIT = 0x290;
    private static final int MINIMUM_SIZE = SETUP_HEADER_LIMIT;
    private static final int HDRS = 0x53726448;
    private static final int PROTOCOL_2_12 = 0x020c;
    private static final int XLF_KERNEL_64 = 1;
    private static final long ENTRY_64_OFFSET = 0x200;

    static boolean matches(MemorySegment bytes) {
        return bytes.byteSize() >= HEADER_MAGIC + 4 && Short.toUnsignedInt(bytes.get(U16, BOOT_FLAG)) == 0xaa55
                && bytes.get(U32, HEADER_MAGIC) == HDRS;
    }

    static BzImageKernel parse(Path file, MemorySegment bytes) throws KernelLoadException {
        String name = "kernel " + file;
        long size = bytes.byteSize();
        if (size < MINIMUM_SIZE) {
            throw new KernelLoadException(name + " is truncated: " + size + " bytes, shorter than a bzImage header");
        }
        int version = Short.toUnsignedInt(bytes.get(U16, PROTOCOL_VERSION));
        if (version < PROTOCOL_2_12) {
            throw new KernelLoadException(String.format("%s uses boot protocol %d.%02d; vmguard needs 2.12 or later",
                    name, version >> 8, version & 0xff));
        }
        if ((bytes.get(U16, XLOADFLAGS) & XLF_KERNEL_64) == 0) {
            throw new KernelLoadException(name + " has no 64-bit entry point (not an x86-64 kernel?)");
        }
        int setupSectors = Byte.toUnsignedInt(bytes.get(ValueLayout.JAVA_BYTE, SETUP_HEADER_OFFSET));
        long kernelOffset = (long) ((setupSectors == 0 ? 4 : setupSectors) + 1) * 512;
        long declaredSize = Integer.toUnsignedLong(bytes.get(U32, 0x1f4)) * 16;
        if (kernelOffset >= size || size - kernelOffset < declaredSize) {
            throw new KernelLoadException(String.format("%s is truncated: header declares %d kernel bytes after offset 0x%x, file has %d",
                    name, declaredSize, kernelOffset, Math.max(0, size - kernelOffset)));
        }
        long initSize = Integer.toUnsignedLong(bytes.get(U32, 0x260));
        long preferred = bytes.get(U64, 0x258);
        int commandLineSize = bytes.get(U32, 0x238);
        long initrdMax = Integer.toUnsignedLong(bytes.get(U32, 0x22c));
        return new BzImageKernel(file, bytes, kernelOffset, size - kernelOffset, preferred, initSize,
                commandLineSize <= 0 ? X86Layout.CMDLINE_MAX : Math.min(commandLineSize + 1, X86Layout.CMDLINE_REGION),
                initrdMax == 0 ? X86Layout.DEFAULT_INITRD_ADDR_MAX : initrdMax);
    }

    @Override
    public Loaded loadInto(GuestMemory memory) throws KernelLoadException {
        long load = X86Layout.HIGH_MEMORY_START;
        if (!memory.contains(load, kernelSize)) {
            throw new KernelLoadException(String.format("kernel %s (%d bytes) does not fit in guest memory (%d MiB)",
                    file, kernelSize, memory.totalSize() >> 20));
        }
        long decompressAt = Math.max(preferredAddress, load);
        if (!memory.contains(decompressAt, initSize)) {
            throw new KernelLoadException(String.format("kernel %s needs %d MiB at 0x%x to decompress; guest memory is %d MiB",
                    file, (initSize + (1 << 20) - 1) >> 20, decompressAt, memory.totalSize() >> 20));
        }
        MemorySegment.copy(bytes, kernelOffset, memory.slice(load, kernelSize), 0, kernelSize);
        long end = Math.max(load + kernelSize, decompressAt + initSize);
        return new Loaded(load + ENTRY_64_OFFSET, end, setupHeader(), commandLineSize, initrdAddressMax);
    }

    /**
     * The setup header for boot_params: from 0x1f1 to 0x202 plus the jump offset stored at 0x201; boot_params
     * keeps room for it only up to 0x290, so a header claiming more is cut there.
     */
    byte[] setupHeader() {
        int headerEnd = Math.min(0x202 + Byte.toUnsignedInt(bytes.get(ValueLayout.JAVA_BYTE, 0x201)), SETUP_HEADER_LIMIT);
        return bytes.asSlice(SETUP_HEADER_OFFSET, headerEnd - SETUP_HEADER_OFFSET).toArray(ValueLayout.JAVA_BYTE);
    }

    /** The header's relocatable_kernel: the kernel may run elsewhere than where it was linked. */
    boolean relocatable() {
        return bytes.get(ValueLayout.JAVA_BYTE, 0x234) != 0;
    }

    /** The header's kernel_alignment: the unit the kernel may be moved by (CONFIG_PHYSICAL_ALIGN). */
    long alignment() {
        return Integer.toUnsignedLong(bytes.get(U32, 0x230));
    }

    @Override
    public String toString() {
        return "BzImageKernel[" + file + ", " + kernelSize + " bytes]";
    }
}
