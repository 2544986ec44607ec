package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * A bzImage whose compressed kernel vmguard decompressed ({@link BzImagePayload}): the vmlinux inside is
 * loaded at its link-time physical addresses and entered at its 64-bit entry, with the bzImage's own setup
 * header in boot_params, as the kernel's decompressor would leave it. KASLR stays: where that decompressor
 * would move the kernel's virtual addresses (a relocatable kernel built with CONFIG_RANDOMIZE_BASE, no
 * {@code nokaslr} on the command line), vmguard applies the kernel's relocation table with a random slide
 * in the decompressor's range and tells the kernel so (KASLR_FLAG), so the kernel also randomises its
 * memory regions. The physical address stays the linked one (the decompressor would pick a random one too).
 */
record UnpackedBzImage(BzImageKernel bzImage, ElfKernel vmlinux, Optional<KernelRelocations> relocations, long slide)
        implements KernelImage {
    /** KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE: the kernel's virtual addresses stay below 1 GiB of the map. */
    static final long KERNEL_IMAGE_SIZE = 1L << 30;
    /** loadflags' KASLR_FLAG, set by the decompressor when it moved the kernel. */
    private static final int KASLR_FLAG = 1 << 1;
    private static final int LOADFLAGS = 0x211;
    /** Only the decompressor of a kernel with CONFIG_RANDOMIZE_BASE looks for this option (compressed/kaslr.c). */
    private static final byte[] KASLR_OPTION = "nokaslr".getBytes(StandardCharsets.US_ASCII);

    /**
     * {@code bzImage} decompressed, with the slide drawn from {@code random}; empty when its payload is in a
     * format left to the guest's decompressor.
     */
    static Optional<UnpackedBzImage> unpack(BzImageKernel bzImage, String commandLine, RandomGenerator random)
            throws KernelLoadException {
        Optional<byte[]> payload = BzImagePayload.decompress(bzImage);
        if (payload.isEmpty()) {
            return Optional.empty();
        }
        byte[] bytes = payload.get();
        if (!ElfKernel.matches(MemorySegment.ofArray(bytes))) {
            throw new KernelLoadException("kernel " + bzImage.file() + " is corrupt: its compressed kernel is not an ELF vmlinux");
        }
        ElfKernel vmlinux = ElfKernel.parse(bzImage.file(), MemorySegment.ofArray(bytes));
        Optional<KernelRelocations> relocations = KernelRelocations.parse(bytes, fileEnd(vmlinux));
        long slide = 0;
        if (relocations.isPresent() && relocations.get().count() > 0 && kaslrWanted(bzImage, commandLine)) {
            slide = slide(bzImage, vmlinux, bytes.length, random);
        }
        return Optional.of(new UnpackedBzImage(bzImage, vmlinux, relocations, slide));
    }

    /** Where the decompressor would randomise: a relocatable kernel with KASLR built in, not turned off. */
    static boolean kaslrWanted(BzImageKernel bzImage, String commandLine) {
        boolean off = Arrays.stream(commandLine.split("\\s+")).anyMatch("nokaslr"::equals);
        return !off && bzImage.relocatable() && contains(bzImage.bytes(), KASLR_OPTION);
    }

    /**
     * A random multiple of the kernel's alignment, as the decompressor's find_random_virt_addr draws it: the
     * kernel (at least its decompressed size) must end below KERNEL_IMAGE_SIZE.
     */
    static long slide(BzImageKernel bzImage, ElfKernel vmlinux, long decompressed, RandomGenerator random) {
        long base = vmlinux.segments().stream().mapToLong(ElfKernel.Segment::address).min().orElseThrow();
        long end = vmlinux.segments().stream().mapToLong(s -> s.address() + s.memorySize()).max().orElseThrow();
        long size = Math.max(end - base, decompressed);
        long align = bzImage.alignment();
        if (align <= 0 || Long.bitCount(align) != 1 || base + size >= KERNEL_IMAGE_SIZE) {
            return 0;
        }
        long slots = (KERNEL_IMAGE_SIZE - base - size) / align + 1;
        return random.nextLong(slots) * align;
    }

    @Override
    public Loaded loadInto(GuestMemory memory) throws KernelLoadException {
        Loaded inner = vmlinux.loadInto(memory);
        byte[] header = bzImage.setupHeader();
        if (slide != 0) {
            relocations.orElseThrow().apply(memory, vmlinux.segments(), slide);
            header[LOADFLAGS - BzImageKernel.SETUP_HEADER_OFFSET] |= KASLR_FLAG;
        }
        return new Loaded(inner.entry(), inner.end(), header, bzImage.commandLineSize(), bzImage.initrdAddressMax());
    }

    /** The end of the ELF file's own bytes (headers, segments, section headers): the relocation table follows. */
    static long fileEnd(ElfKernel elf) {
        MemorySegment bytes = elf.bytes();
        long end = bytes.get(U64, 32) + (long) Short.toUnsignedInt(bytes.get(U16, 54)) * Short.toUnsignedInt(bytes.get(U16, 56));
        long sections = bytes.get(U64, 40);
        if (sections != 0) {
            end = Math.max(end, sections + (long) Short.toUnsignedInt(bytes.get(U16, 58)) * Short.toUnsignedInt(bytes.get(U16, 60)));
        }
        for (ElfKernel.Segment segment : elf.segments()) {
            end = Math.max(end, segment.offset() + segment.fileSize());
        }
        return end;
    }

    private static boolean contains(MemorySegment bytes, byte[] needle) {
        long last = bytes.byteSize() - needle.length;
        for (long i = 0; i <= last; i++) {
            if (bytes.get(ValueLayout.JAVA_BYTE, i) == needle[0] && matchesAt(bytes, i, needle)) {
                return true;
            }
        }
        return false;
    }

    private static boolean matchesAt(MemorySegment bytes, long at, byte[] needle) {
        for (int j = 1; j < needle.length; j++) {
            if (bytes.get(ValueLayout.JAVA_BYTE, at + j) != needle[j]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "UnpackedBzImage[" + bzImage.file() + ", entry=0x" + Long.toHexString(vmlinux.entry())
                + ", slide=0x" + Long.toHexString(slide) + "]";
    }
}
