package io.vmguard.arch.x86;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.memory.GuestMemory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinuxBootTest {
    private static final long MEMORY = 128L << 20;

    @TempDir
    Path dir;
    private GuestMemory memory;

    @BeforeEach
    void setUp() throws Exception {
        memory = GuestMemory.allocate(X86Layout.ramRanges(MEMORY));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @Test
    void entersTheKernelInLongModeWithRsiAtBootParams() throws Exception {
        BootState boot = LinuxBoot.prepare(memory, KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), null, "console=ttyS0");
        Registers regs = boot.registers();
        assertEquals(KernelFiles.ELF_ENTRY, regs.rip());
        assertEquals(X86Layout.ZERO_PAGE, regs.rsi());
        assertEquals(0x2, regs.rflags());
        SpecialRegisters sregs = boot.specialRegisters();
        assertTrue((sregs.cr0() & SpecialRegisters.CR0_PG) != 0 && (sregs.cr0() & SpecialRegisters.CR0_PE) != 0);
        assertTrue((sregs.cr4() & SpecialRegisters.CR4_PAE) != 0);
        assertEquals(SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA, sregs.efer());
        assertEquals(X86Layout.PML4, sregs.cr3());
        assertEquals(Segment.code64(BootGdt.CODE_SELECTOR), sregs.cs());
        assertEquals(Segment.data(BootGdt.DATA_SELECTOR), sregs.ds());
        assertEquals(BootGdt.TSS_SELECTOR, sregs.tr().selector());
    }

    @Test
    void theGdtInMemoryDecodesToTheSegmentsTheVcpuIsGiven() throws Exception {
        BootState boot = LinuxBoot.prepare(memory, KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), null, "");
        long code = memory.readLong(X86Layout.BOOT_GDT + BootGdt.CODE_SELECTOR);
        long data = memory.readLong(X86Layout.BOOT_GDT + BootGdt.DATA_SELECTOR);
        assertEquals(0x00af9b000000ffffL, code);
        assertEquals(0x00cf93000000ffffL, data);
        assertEquals(boot.specialRegisters().cs(), Segment.fromDescriptor(code, BootGdt.CODE_SELECTOR));
        assertEquals(0, memory.readLong(X86Layout.BOOT_GDT));
    }

    @Test
    void pageTablesIdentityMapTheFirstFourGibibytes() throws Exception {
        LinuxBoot.prepare(memory, KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), null, "");
        for (long address : new long[] {0, KernelFiles.ELF_ENTRY, MEMORY - 1, 0xfee0_0000L, 0xffff_ffffL}) {
            assertEquals(address, translate(address), "0x" + Long.toHexString(address));
        }
    }

    /** Walks the 4-level tables the way the CPU does (2 MiB leaves). */
    private long translate(long linear) {
        long pml4e = memory.readLong(X86Layout.PML4 + ((linear >>> 39) & 511) * 8);
        assertTrue((pml4e & 1) != 0);
        long pdpte = memory.readLong((pml4e & 0xffffffffff000L) + ((linear >>> 30) & 511) * 8);
        assertTrue((pdpte & 1) != 0);
        long pde = memory.readLong((pdpte & 0xffffffffff000L) + ((linear >>> 21) & 511) * 8);
        assertTrue((pde & 1) != 0 && (pde & 0x80) != 0);
        return (pde & 0xfffffffe00000L) | (linear & 0x1fffff);
    }

    @Test
    void bootParamsCarryCommandLineInitrdAndE820() throws Exception {
        byte[] initrd = new byte[10_000];
        java.util.Arrays.fill(initrd, (byte) 0x5a);
        Path initrdFile = Files.write(dir.resolve("initrd"), initrd);
        String line = "console=ttyS0 vmguard.run=hello";
        BootState boot = LinuxBoot.prepare(memory, KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), initrdFile, line);

        long zp = X86Layout.ZERO_PAGE;
        assertEquals((short) 0xaa55, memory.readShort(zp + 0x1fe));
        assertEquals(0x53726448, memory.readInt(zp + 0x202));
        assertEquals((byte) 0xff, memory.readByte(zp + 0x210));
        assertEquals(X86Layout.CMDLINE, memory.readInt(zp + 0x228));
        assertEquals(line, new String(memory.readBytes(X86Layout.CMDLINE, line.length()), StandardCharsets.US_ASCII));
        assertEquals(0, memory.readByte(X86Layout.CMDLINE + line.length()));

        long ramdisk = Integer.toUnsignedLong(memory.readInt(zp + 0x218));
        assertEquals(boot.initrdAddress(), ramdisk);
        assertEquals(initrd.length, memory.readInt(zp + 0x21c));
        assertEquals(0, ramdisk % 4096);
        assertTrue(ramdisk + initrd.length <= MEMORY, "initrd ends inside RAM");
        assertEquals(MEMORY - 3 * 4096, ramdisk, "initrd sits page-aligned at the top of RAM");
        assertArrayEquals(initrd, memory.readBytes(ramdisk, initrd.length));

        assertEquals(3, memory.readByte(zp + 0x1e8));
        assertE820(zp + 0x2d0, 0, X86Layout.EBDA_START, E820Entry.Type.RAM);
        assertE820(zp + 0x2d0 + 20, X86Layout.HIGH_MEMORY_START, MEMORY - X86Layout.HIGH_MEMORY_START, E820Entry.Type.RAM);
        assertE820(zp + 0x2d0 + 40, X86Layout.PCI_ECAM, X86Layout.PCI_ECAM_SIZE, E820Entry.Type.RESERVED);
        assertEquals(0, memory.readLong(zp + 0x070), "no ACPI tables were given");
    }

    @Test
    void bootParamsLeadToA32ByteRngSeedFromTheHostThatDiffersPerBoot() throws Exception {
        Path kernel = KernelFiles.write(dir, "vmlinux", KernelFiles.elf());
        LinuxBoot.prepare(memory, kernel, null, "");
        long seedEntry = memory.readLong(X86Layout.ZERO_PAGE + 0x250);
        assertEquals(X86Layout.SETUP_DATA, seedEntry, "hdr.setup_data names the list's first entry");
        assertEquals(0, memory.readLong(seedEntry), "next: the list ends here");
        assertEquals(9, memory.readInt(seedEntry + 8), "type SETUP_RNG_SEED");
        assertEquals(32, memory.readInt(seedEntry + 12), "len");
        byte[] first = memory.readBytes(seedEntry + 16, 32);
        assertFalse(java.util.Arrays.equals(new byte[32], first));

        LinuxBoot.prepare(memory, kernel, null, "");
        assertFalse(java.util.Arrays.equals(first, memory.readBytes(seedEntry + 16, 32)), "a fresh seed for each boot");
        assertTrue(X86Layout.SETUP_DATA >= X86Layout.BOOT_IDT + 8 && X86Layout.SETUP_DATA + 16 + 32 <= X86Layout.ZERO_PAGE,
                "between the boot IDT and the zero page, in RAM below the EBDA that Linux keeps reserved");
    }

    @Test
    void aHostSourceThatEndsBeforeTheSeedStopsTheBoot() {
        var shortSource = new java.io.ByteArrayInputStream(new byte[31]);
        KernelLoadException e = assertThrows(KernelLoadException.class,
                () -> RngSeed.writeTo(memory, X86Layout.SETUP_DATA, shortSource));
        assertTrue(e.getMessage().contains("RNG seed"), e.getMessage());
    }

    private void assertE820(long entry, long address, long size, E820Entry.Type type) {
        assertEquals(address, memory.readLong(entry));
        assertEquals(size, memory.readLong(entry + 8));
        assertEquals(type.code(), memory.readInt(entry + 16));
    }

    @Test
    void bootParamsNameTheAcpiRsdp() throws Exception {
        LinuxBoot.prepare(memory, KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), null, "", X86Layout.ACPI_TABLES,
                LinuxBoot.Decompression.HOST);
        assertEquals(X86Layout.ACPI_TABLES, memory.readLong(X86Layout.ZERO_PAGE + 0x070));
    }

    @Test
    void e820KeepsTheAcpiAreaOutOfRamAndReservesEcam() {
        var entries = E820Map.of(memory);
        for (E820Entry entry : entries) {
            boolean overlapsAcpi = entry.address() < X86Layout.ACPI_TABLES_END && entry.end() > X86Layout.ACPI_TABLES;
            assertFalse(overlapsAcpi, "e820 entry " + entry + " covers the ACPI tables");
        }
        assertTrue(entries.contains(new E820Entry(X86Layout.PCI_ECAM, X86Layout.PCI_ECAM_SIZE, E820Entry.Type.RESERVED)));
        for (int i = 1; i < entries.size(); i++) {
            assertTrue(entries.get(i).address() >= entries.get(i - 1).end(), "sorted, disjoint");
        }
    }

    @Test
    void aBzImageKeepsItsOwnSetupHeader() throws Exception {
        LinuxBoot.prepare(memory, KernelFiles.write(dir, "bzImage", KernelFiles.bzImage()), null, "quiet");
        long zp = X86Layout.ZERO_PAGE;
        assertEquals(KernelFiles.BZ_SETUP_SECTORS, memory.readByte(zp + 0x1f1));
        assertEquals((short) 0x020f, memory.readShort(zp + 0x206));
        assertEquals(0x200000, memory.readInt(zp + 0x230));
        assertEquals(0x81, memory.readByte(zp + 0x211) & 0x81, "LOADED_HIGH and CAN_USE_HEAP set");
    }

    @Test
    void e820ListsHighMemoryAboveTheMmioGap() throws Exception {
        try (GuestMemory big = GuestMemory.allocate(X86Layout.ramRanges(4L << 30))) {
            var entries = E820Map.of(big);
            assertEquals(4, entries.size());
            assertEquals(X86Layout.MMIO_GAP_START, entries.get(1).end());
            assertEquals(E820Entry.Type.RESERVED, entries.get(2).type(), "ECAM, in the gap");
            assertEquals(X86Layout.MMIO_GAP_END, entries.get(3).address());
            assertEquals(1L << 30, entries.get(3).size());
            assertFalse(big.contains(X86Layout.MMIO_GAP_START, 1));
        }
    }

    @Test
    void rejectsACommandLineLongerThanTheKernelAccepts() {
        String tooLong = "x".repeat(X86Layout.CMDLINE_MAX);
        String message = assertThrows(KernelLoadException.class, () -> LinuxBoot.prepare(memory,
                KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), null, tooLong)).getMessage();
        assertEquals("kernel command line is 2048 bytes; this kernel accepts at most 2047", message);
    }

    @Test
    void aGzipInitrdReachesTheGuestDecompressedOnlyWhileItsArchiveTakesAtMostAQuarterOfGuestRam() throws Exception {
        Path kernel = KernelFiles.write(dir, "vmlinux", KernelFiles.elf());
        long quarter = MEMORY / 4;

        BootState small = LinuxBoot.prepare(memory, kernel, gzip("small.gz", quarter), "console=ttyS0");
        BootState large = LinuxBoot.prepare(memory, kernel, gzip("large.gz", quarter + 4096), "console=ttyS0");

        assertEquals(quarter, small.initrdSize(), "decompressed: the archive itself");
        assertEquals(Files.size(dir.resolve("large.gz")), large.initrdSize(),
                "compressed: unpacking it would hold archive and files, twice its size, in a guest with less to spare");
    }

    /** A gzip file of {@code size} zero bytes (a tar-sized multiple of 512, so one member is a whole archive). */
    private Path gzip(String name, long size) throws Exception {
        Path file = dir.resolve(name);
        try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(file))) {
            byte[] block = new byte[1 << 20];
            for (long left = size; left > 0; left -= block.length) {
                out.write(block, 0, (int) Math.min(block.length, left));
            }
        }
        return file;
    }

    @Test
    void rejectsAnInitrdThatDoesNotFitBesideTheKernel() throws Exception {
        Path initrd = Files.write(dir.resolve("initrd"), new byte[(int) (MEMORY - (8L << 20))]);
        String message = assertThrows(KernelLoadException.class, () -> LinuxBoot.prepare(memory,
                KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), initrd, "")).getMessage();
        assertTrue(message.startsWith("guest memory (128 MiB) is too small for the kernel and a 122880 KiB initrd"), message);
    }

    @Test
    void rejectsAMissingInitrd() {
        String message = assertThrows(KernelLoadException.class, () -> LinuxBoot.prepare(memory,
                KernelFiles.write(dir, "vmlinux", KernelFiles.elf()), dir.resolve("nope"), "")).getMessage();
        assertEquals("initrd " + dir.resolve("nope") + " not found", message);
    }
}
