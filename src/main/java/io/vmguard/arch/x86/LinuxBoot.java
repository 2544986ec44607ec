package io.vmguard.arch.x86;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import io.vmguard.sys.HostUrandom;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.OptionalLong;

/**
 * Prepares guest memory and the boot vCPU for Linux's 64-bit boot protocol (or, for a Multiboot kernel,
 * for {@link MultibootKernel}'s 32-bit entry), as Firecracker does: kernel,
 * initrd and command line in memory, boot_params with the e820 map and an RNG seed, identity page tables and a GDT, and
 * the CPU already in long mode at the kernel's 64-bit entry with RSI pointing at boot_params.
 */
public final class LinuxBoot {
    private static final long PAGE = 4096;
    static final String DECOMPRESS_PROPERTY = "vmguard.boot.decompress";

    private LinuxBoot() {}

    /** Prepares a boot without ACPI tables. */
    public static BootState prepare(GuestMemory memory, Path kernelFile, Path initrdFile, String commandLine)
            throws KernelLoadException {
        return prepare(memory, kernelFile, initrdFile, commandLine, 0, Decompression.HOST);
    }

    /**
     * Prepares a boot; {@code acpiRsdp} is the address of the ACPI tables' RSDP, or 0 when there are none;
     * {@code decompression} says who should decompress the kernel and the initrd (the system property
     * {@value #DECOMPRESS_PROPERTY} overrides it).
     */
    public static BootState prepare(GuestMemory memory, Path kernelFile, Path initrdFile, String commandLine, long acpiRsdp,
                                    Decompression decompression) throws KernelLoadException {
        boolean onHost = Decompression.chosen(decompression) == Decompression.HOST;
        try (Arena arena = Arena.ofConfined()) {
            BootState multiboot = multiboot(memory, kernelFile, initrdFile, commandLine, arena);
            if (multiboot != null) {
                return multiboot;
            }
            KernelImage kernel = KernelImage.open(kernelFile, arena);
            if (kernel instanceof BzImageKernel bzImage && onHost) {
                kernel = UnpackedBzImage.unpack(bzImage, commandLine, new SecureRandom()).map(KernelImage.class::cast).orElse(kernel);
            }
            KernelImage.Loaded loaded = kernel.loadInto(memory);

            byte[] line = commandLine.getBytes(StandardCharsets.US_ASCII);
            if (line.length + 1 > loaded.commandLineMax()) {
                throw new KernelLoadException("kernel command line is " + line.length + " bytes; this kernel accepts at most "
                        + (loaded.commandLineMax() - 1));
            }
            memory.fill(X86Layout.CMDLINE, line.length + 1, (byte) 0);
            memory.write(X86Layout.CMDLINE, line);

            BootParams params = new BootParams(loaded.setupHeader())
                    .commandLine(X86Layout.CMDLINE, line.length)
                    .acpiRsdp(acpiRsdp)
                    .e820(E820Map.of(memory))
                    .setupData(X86Layout.SETUP_DATA);
            RngSeed.writeTo(memory, X86Layout.SETUP_DATA, HostUrandom.stream());
            long initrdAddress = 0;
            long initrdSize = 0;
            if (initrdFile != null) {
                MemorySegment initrd = map(initrdFile, arena);
                MemorySegment inflateArea = onHost ? inflateArea(memory, loaded) : MemorySegment.NULL;
                OptionalLong archive = onHost ? GzipInitrd.decompress(initrd, inflateArea) : OptionalLong.empty();
                if (archive.isPresent()) {
                    initrdSize = archive.getAsLong();
                    initrdAddress = placeInitrd(memory, loaded, initrdSize);
                    // Up to the top of the room: the two ranges may overlap, and the copy is then a memmove.
                    MemorySegment.copy(inflateArea, 0, memory.slice(initrdAddress, initrdSize), 0, initrdSize);
                } else {
                    initrdSize = initrd.byteSize();
                    initrdAddress = placeInitrd(memory, loaded, initrdSize);
                    memory.write(initrdAddress, initrd);
                }
                params.ramdisk(initrdAddress, initrdSize);
            }
            memory.write(X86Layout.ZERO_PAGE, params.toBytes());

            BootGdt.writeTo(memory);
            long cr3 = BootPageTables.writeTo(memory);
            return new BootState(entryRegisters(loaded.entry()), longModeRegisters(cr3), loaded.end(), initrdAddress, initrdSize);
        }
    }

    /** Who decompresses a bzImage's kernel and a gzip initrd. */
    public enum Decompression {
        /**
         * vmguard, before the guest starts: for an engine that emulates guest code, where the kernel's own
         * decompressor costs tens of seconds for a distribution kernel and its inflate of the initramfs a fifth
         * of the time to the ready marker (docs/benchmarks.md).
         */
        HOST,
        /**
         * The guest's kernel, as on hardware: for an engine that runs guest code natively (KVM), where that
         * costs a fraction of a second and XZ on one host thread more (1-2 s for Debian's kernel).
         */
        GUEST;

        /** {@code preferred}, unless {@code -Dvmguard.boot.decompress=host|guest} says otherwise. */
        static Decompression chosen(Decompression preferred) throws KernelLoadException {
            String mode = System.getProperty(DECOMPRESS_PROPERTY);
            return switch (mode) {
                case null -> preferred;
                case "host" -> HOST;
                case "guest" -> GUEST;
                default -> throw new KernelLoadException("-D" + DECOMPRESS_PROPERTY + "=" + mode + ": use host or guest");
            };
        }
    }

    /**
     * A Multiboot v1 kernel (neither an x86-64 ELF nor a bzImage, with a Multiboot header in its first 8 KiB)
     * loaded and entered in 32-bit protected mode, the initrd as its module; null for any other file.
     */
    private static BootState multiboot(GuestMemory memory, Path kernelFile, Path initrdFile, String commandLine, Arena arena)
            throws KernelLoadException {
        MemorySegment bytes;
        try {
            bytes = map(kernelFile, arena);
        } catch (KernelLoadException e) {
            return null; // KernelImage.open says what is wrong with the file, as it did before
        }
        boolean elf64 = ElfKernel.matches(bytes) && bytes.byteSize() > 4 && bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4) == 2;
        if (elf64 || BzImageKernel.matches(bytes)) {
            return null;
        }
        var header = MultibootKernel.findHeader(bytes);
        if (header.isEmpty()) {
            return null;
        }
        MultibootKernel kernel = MultibootKernel.parse("kernel " + kernelFile, bytes, header.get());
        MemorySegment module = initrdFile == null ? null : map(initrdFile, arena);
        String moduleName = initrdFile == null ? null : initrdFile.getFileName().toString();
        return kernel.load(memory, module, moduleName, commandLine);
    }

    /**
     * The most a decompressed initrd may take: what fits between the kernel's end (a page for the alignment)
     * and where it must end, and at most a quarter of guest RAM. While the kernel unpacks the archive it holds
     * both the archive and the files, twice the archive's size where the compressed file needed much less:
     * a larger archive goes compressed, so that host-side decompression never makes a guest run out of memory
     * that would have booted.
     */
    static long initrdRoom(GuestMemory memory, KernelImage.Loaded kernel) {
        return Math.min(memory.totalSize() / 4, Math.max(0, initrdLimit(memory, kernel) - kernel.end() - PAGE));
    }

    /**
     * Where the host inflates a gzip initrd: the guest RAM above the kernel that an initrd may take. The archive
     * then moves up to where {@link #placeInitrd} puts it; what it leaves below is free memory to the guest.
     */
    private static MemorySegment inflateArea(GuestMemory memory, KernelImage.Loaded kernel) {
        long room = initrdRoom(memory, kernel);
        return room == 0 ? MemorySegment.NULL : memory.slice((kernel.end() + PAGE - 1) & -PAGE, room);
    }

    /** Where an initrd must end: below the MMIO gap (the end of low RAM) and within the kernel's initrd_addr_max. */
    private static long initrdLimit(GuestMemory memory, KernelImage.Loaded kernel) {
        MemoryRegion low = memory.regions().getFirst();
        return Math.min(low.end(), kernel.initrdAddressMax() + 1);
    }

    /** The initrd goes as high as it may (page aligned), below the MMIO gap and above the kernel. */
    static long placeInitrd(GuestMemory memory, KernelImage.Loaded kernel, long size) throws KernelLoadException {
        long limit = initrdLimit(memory, kernel);
        long address = (limit - size) & -PAGE;
        if (size > limit || address < kernel.end()) {
            long needed = kernel.end() + size + PAGE;
            throw new KernelLoadException(String.format("guest memory (%d MiB) is too small for the kernel and a %d KiB initrd;"
                    + " give it at least %d MiB", memory.totalSize() >> 20, size >> 10, (needed >> 20) + 1));
        }
        return address;
    }

    static Registers entryRegisters(long entry) {
        return Registers.builder()
                .rip(entry)
                .rsp(X86Layout.BOOT_STACK_POINTER)
                .rbp(X86Layout.BOOT_STACK_POINTER)
                .rsi(X86Layout.ZERO_PAGE)
                .rflags(Registers.RFLAGS_RESERVED)
                .build();
    }

    static SpecialRegisters longModeRegisters(long cr3) {
        Segment code = BootGdt.code();
        Segment data = BootGdt.data();
        return new SpecialRegisters(code, data, data, data, data, data, BootGdt.tss(), Segment.unusableLdt(),
                new DescriptorTable(X86Layout.BOOT_GDT, BootGdt.limit()),
                new DescriptorTable(X86Layout.BOOT_IDT, 7),
                SpecialRegisters.CR0_PE | SpecialRegisters.CR0_ET | SpecialRegisters.CR0_PG,
                0, cr3, SpecialRegisters.CR4_PAE, 0,
                SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA,
                LocalApic.DEFAULT_BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP);
    }

    private static MemorySegment map(Path file, Arena arena) throws KernelLoadException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
        } catch (NoSuchFileException e) {
            throw new KernelLoadException("initrd " + file + " not found");
        } catch (IOException e) {
            throw new KernelLoadException("cannot read initrd " + file + ": " + e.getMessage());
        }
    }
}
