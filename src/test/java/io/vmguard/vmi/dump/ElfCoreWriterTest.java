package io.vmguard.vmi.dump;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.testing.HostTool;
import io.vmguard.vmi.Msr;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ElfCoreWriterTest {
    private static final String VMCOREINFO = "OSRELEASE=6.12.0-vmguard\nPAGESIZE=4096\nKERNELOFFSET=1c000000\n";

    @TempDir
    Path dir;

    private final SyntheticGuest guest = new SyntheticGuest();

    private ElfCoreFile dump(DumpOptions options) throws Exception {
        Path file = dir.resolve("guest.core");
        new ElfCoreWriter(options).write(guest, file).orThrow();
        return ElfCoreFile.read(file);
    }

    @Test
    void theHeaderIsAnX8664LittleEndianCoreWithTheNotesFirstThenOneLoadPerRamRange() throws Exception {
        ElfCoreFile core = dump(DumpOptions.defaults());
        byte[] ident = core.header().ident();
        assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1}, java.util.Arrays.copyOf(ident, 7));
        assertEquals(4, core.header().type(), "ET_CORE");
        assertEquals(62, core.header().machine(), "EM_X86_64");
        assertEquals(1, core.header().version());
        assertEquals(64, core.header().phoff(), "program headers right after the ELF header (crash expects it)");
        assertEquals(56, core.header().phentsize());
        assertEquals(3, core.header().phnum());
        assertEquals(0, core.header().shoff());

        ElfCoreFile.ProgramHeader note = core.programHeaders().getFirst();
        assertEquals(4, note.type(), "PT_NOTE first");
        assertEquals(64 + 3 * 56, note.offset(), "notes right after the program headers, as QEMU");
        assertEquals(0, note.vaddr());
        assertEquals(0, note.paddr());

        List<ElfCoreFile.ProgramHeader> loads = core.loads();
        assertEquals(2, loads.size());
        long[][] expected = {{SyntheticGuest.LOW_START, SyntheticGuest.LOW_SIZE}, {SyntheticGuest.HIGH_START, SyntheticGuest.HIGH_SIZE}};
        for (int i = 0; i < 2; i++) {
            ElfCoreFile.ProgramHeader load = loads.get(i);
            assertEquals(expected[i][0], load.paddr(), "p_paddr = guest-physical start");
            assertEquals(expected[i][0], load.vaddr(), "p_vaddr = p_paddr, as QEMU without paging");
            assertEquals(expected[i][1], load.filesz());
            assertEquals(expected[i][1], load.memsz());
            assertEquals(0, load.align(), "p_align 0 like QEMU's: crash reads the file as a kdump-style ELF core");
        }
        assertEquals(0, loads.getFirst().offset() % 4096, "memory starts on a page boundary (holes)");
        assertTrue(loads.getFirst().offset() >= note.offset() + note.filesz());
        assertEquals(loads.getFirst().offset() + SyntheticGuest.LOW_SIZE, loads.get(1).offset(), "ranges back to back");
        assertEquals(loads.get(1).offset() + SyntheticGuest.HIGH_SIZE, Files.size(core.path()), "the file ends with the last range");
    }

    @Test
    void eachLoadSegmentHoldsExactlyTheGuestMemoryOfItsRangeHolesIncluded() throws Exception {
        ElfCoreFile core = dump(DumpOptions.defaults());
        for (ElfCoreFile.ProgramHeader load : core.loads()) {
            byte[] stored = core.contents(load);
            for (int i = 0; i < stored.length; i++) {
                if (stored[i] != SyntheticGuest.byteAt(load.paddr() + i)) {
                    throw new AssertionError(String.format("byte at guest-physical %#x: file has %#x, guest %#x",
                            load.paddr() + i, stored[i], SyntheticGuest.byteAt(load.paddr() + i)));
                }
            }
        }
    }

    @Test
    void theNotesAreOnePrStatusThenOneQemuCpuStatePerVcpuInQemusOrder() throws Exception {
        ElfCoreFile core = dump(DumpOptions.defaults());
        assertEquals(List.of("CORE", "QEMU"), core.notes().stream().map(ElfCoreFile.Note::name).toList());
        ElfCoreFile.Note prstatus = core.notes().getFirst();
        assertEquals(1, prstatus.type(), "NT_PRSTATUS");
        assertEquals(336, prstatus.descriptor().length, "sizeof(struct elf_prstatus) on x86-64");
        assertEquals(0, core.notes().get(1).type());
    }

    @Test
    void prStatusHoldsThePidAndTheRegistersInUserRegsStructOrder() throws Exception {
        ByteBuffer d = dump(DumpOptions.defaults()).notes("CORE").getFirst().le();
        Registers r = SyntheticGuest.registers();
        SpecialRegisters s = SyntheticGuest.special();
        assertEquals(1, d.getInt(32), "pr_pid = vCPU index + 1, as QEMU");
        long[] userRegs = {r.r15(), r.r14(), r.r13(), r.r12(), r.rbp(), r.rbx(), r.r11(), r.r10(), r.r9(), r.r8(),
                r.rax(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), 0, r.rip(), 0x10, r.rflags(), r.rsp(), 0x18,
                0x7f00_0000_1000L, 0xffff_8880_0e00_0000L, 0x2b, 0x20, 0, 0};
        String[] names = {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
                "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"};
        for (int i = 0; i < userRegs.length; i++) {
            assertEquals(userRegs[i], d.getLong(112 + 8 * i), names[i] + " at pr_reg+" + 8 * i);
        }
        assertEquals(s.cs().selector(), (int) d.getLong(112 + 17 * 8));
        for (int i = 112 + 27 * 8; i < 336; i++) {
            assertEquals(0, d.get(i), "the tail after pr_reg (pr_fpvalid, padding) is zero");
        }
    }

    @Test
    void theQemuNoteHoldsQemuCpuStateWithCr3AndTheIdtBaseWhereCrashReadsThem() throws Exception {
        ByteBuffer d = dump(DumpOptions.defaults()).notes("QEMU").getFirst().le();
        Registers r = SyntheticGuest.registers();
        SpecialRegisters s = SyntheticGuest.special();
        assertEquals(440, d.capacity());
        assertEquals(1, d.getInt(0), "QEMUCPUSTATE_VERSION");
        assertEquals(440, d.getInt(4), "size, kernel_gs_base included");
        long[] gprs = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(), r.r10(),
                r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        for (int i = 0; i < gprs.length; i++) {
            assertEquals(gprs[i], d.getLong(8 + 8 * i), "register " + i);
        }
        // Segments: cs ds es fs gs ss ldt tr gdt idt, 24 bytes each from offset 152.
        assertSegment(d, 0, 0x10, 0xffffffff, 0xb << 8 | 1 << 12 | 1 << 15 | 1 << 21 | 1 << 23, 0);
        assertSegment(d, 1, 0x2b, 0xfffff, 0x3 << 8 | 1 << 12 | 3 << 13 | 1 << 15 | 1 << 22, 0);
        assertSegment(d, 3, 0, 0xffffffff, 0x3 << 8 | 1 << 12 | 1 << 15 | 1 << 22 | 1 << 23, 0x7f00_0000_1000L);
        assertSegment(d, 6, 0, 0, 0x2 << 8, 0);
        assertSegment(d, 7, 0x40, 0x4087, 0xb << 8 | 1 << 15, 0xfffffe00_00003000L);
        assertSegment(d, 8, 0, 0x7f, 0, s.gdt().base());
        assertSegment(d, 9, 0, 0xfff, 0, s.idt().base());
        assertEquals(s.idt().base(), d.getLong(152 + 9 * 24 + 16), "idt.base: crash's kaslr_helper reads it");
        assertEquals(s.cr0(), d.getLong(392));
        assertEquals(0, d.getLong(400), "cr1");
        assertEquals(s.cr2(), d.getLong(408));
        assertEquals(s.cr3(), d.getLong(416), "cr[3]: crash's kaslr_helper walks the page tables from it");
        assertEquals(s.cr4(), d.getLong(424));
        assertEquals(0xffff_8880_0f00_0000L, d.getLong(432), "kernel_gs_base");
        assertEquals(guestMsr(Msr.KERNEL_GS_BASE), d.getLong(432));
    }

    private long guestMsr(int index) {
        return guest.vcpu().msr(index);
    }

    private static void assertSegment(ByteBuffer d, int index, int selector, int limit, int flags, long base) {
        int at = 152 + 24 * index;
        assertEquals(selector, d.getInt(at), "segment " + index + " selector");
        assertEquals(limit, d.getInt(at + 4), "segment " + index + " limit");
        assertEquals(Integer.toHexString(flags), Integer.toHexString(d.getInt(at + 8)), "segment " + index + " flags");
        assertEquals(0, d.getInt(at + 12), "segment " + index + " pad");
        assertEquals(base, d.getLong(at + 16), "segment " + index + " base");
    }

    @Test
    void vmcoreInfoTextGoesLastAsTheVmcoreinfoNote() throws Exception {
        ElfCoreFile core = dump(DumpOptions.defaults().withVmcoreInfo(VMCOREINFO));
        assertEquals(List.of("CORE", "QEMU", "VMCOREINFO"), core.notes().stream().map(ElfCoreFile.Note::name).toList());
        ElfCoreFile.Note info = core.notes().getLast();
        assertEquals(0, info.type());
        assertEquals(VMCOREINFO, new String(info.descriptor(), StandardCharsets.US_ASCII));
    }

    @Test
    void theFileIsPrivateSparseAndReplacesAnEarlierDumpWithNoTemporaryLeft() throws Exception {
        Path file = dir.resolve("guest.core");
        Files.writeString(file, "an earlier dump");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        DumpResult.Written written = new ElfCoreWriter().write(guest, file).orThrow();
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(List.of(file), listDir(), "no temporary file is left beside the dump");
        assertEquals(SyntheticGuest.LOW_SIZE + SyntheticGuest.HIGH_SIZE, written.memoryBytes());
        assertEquals(Files.size(file), written.fileBytes());
        assertTrue(written.storedMemoryBytes() < written.memoryBytes() * 4 / 5,
                "a zero page is a hole, not written: stored " + written.storedMemoryBytes() + " of " + written.memoryBytes());
        assertEquals(1, written.vcpus());
        assertEquals(2, written.loadSegments());
    }

    @Test
    void progressRisesToTheTotalInChunks() throws Exception {
        List<long[]> calls = new ArrayList<>();
        new ElfCoreWriter(DumpOptions.defaults().withProgress((done, total) -> calls.add(new long[] {done, total})))
                .write(guest, dir.resolve("guest.core")).orThrow();
        long total = SyntheticGuest.LOW_SIZE + SyntheticGuest.HIGH_SIZE;
        assertTrue(calls.size() >= 4, "one call per chunk: " + calls.size());
        long previous = 0;
        for (long[] call : calls) {
            assertEquals(total, call[1]);
            assertTrue(call[0] > previous, "progress only rises");
            previous = call[0];
        }
        assertEquals(total, calls.getLast()[0]);
    }

    @Test
    void badTargetsFailWithOneLineAndLeaveNothingBehind() throws Exception {
        Files.createDirectory(dir.resolve("existing-dir"));
        Path readOnly = Files.createDirectory(dir.resolve("read-only"));
        Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("r-x------"));
        List<Path> targets = new ArrayList<>(List.of(dir.resolve("no/such/dir/guest.core"), dir.resolve("existing-dir"),
                Path.of("/")));
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root) { // root writes anywhere
            targets.add(readOnly.resolve("guest.core"));
        }
        for (Path target : targets) {
            DumpResult result = new ElfCoreWriter().write(guest, target);
            DumpResult.Failed failed = assertInstanceOf(DumpResult.Failed.class, result, target.toString());
            assertFalse(failed.message().contains("\n"), failed.message());
            assertFalse(failed.message().contains("Exception"), failed.message());
            assertTrue(failed.message().contains(target.toString()), failed.message());
            DumpException thrown = assertThrows(DumpException.class, result::orThrow);
            assertEquals(failed.message(), thrown.getMessage());
        }
        assertEquals(List.of(dir.resolve("existing-dir"), readOnly), listDir());
        try (var files = Files.list(readOnly)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void memoryThatCannotBeReadFailsTheDumpAndKeepsTheEarlierFile() throws Exception {
        Path file = dir.resolve("guest.core");
        Files.writeString(file, "an earlier dump");
        io.vmguard.vmi.GuestView broken = new io.vmguard.vmi.GuestView() {
            @Override
            public io.vmguard.vmi.PhysicalMemory memory() {
                io.vmguard.vmi.PhysicalMemory real = guest.memory();
                return new io.vmguard.vmi.PhysicalMemory() {
                    @Override
                    public boolean read(long gpa, byte[] destination, int offset, int length) {
                        return gpa < SyntheticGuest.HIGH_START && real.read(gpa, destination, offset, length);
                    }

                    @Override
                    public long end() {
                        return real.end();
                    }

                    @Override
                    public List<Range> ranges() {
                        return real.ranges();
                    }
                };
            }

            @Override
            public List<io.vmguard.vmi.VcpuState> vcpus() {
                return guest.vcpus();
            }
        };
        DumpResult.Failed failed = assertInstanceOf(DumpResult.Failed.class, new ElfCoreWriter().write(broken, file));
        assertTrue(failed.message().contains("0x100000"), failed.message());
        assertEquals("an earlier dump", Files.readString(file));
        assertEquals(List.of(file), listDir());
    }

    @Test
    void readelfReadsTheHeaderSegmentsAndNotes() throws Exception {
        Path readelf = HostTool.require("readelf", "apt-get install binutils");
        Path file = dir.resolve("guest.core");
        new ElfCoreWriter(DumpOptions.defaults().withVmcoreInfo(VMCOREINFO)).write(guest, file).orThrow();
        String out = run(List.of(readelf.toString(), "-W", "-h", "-l", "-n", file.toString()));
        assertTrue(out.contains("CORE (Core file)"), out);
        assertTrue(out.contains("Advanced Micro Devices X86-64"), out);
        assertTrue(out.contains("ELF64"), out);
        assertTrue(out.contains("little endian"), out);
        assertTrue(out.matches("(?s).*NOTE\\s+0x0000e8\\s.*"), out);
        assertTrue(out.matches("(?s).*LOAD\\s+0x[0-9a-f]+ 0x0000000000000000 0x0000000000000000 0x0a0000 0x0a0000\\s.*"), out);
        assertTrue(out.matches("(?s).*LOAD\\s+0x[0-9a-f]+ 0x0000000000100000 0x0000000000100000 0x303064 0x303064\\s.*"), out);
        assertTrue(out.matches("(?s).*CORE\\s+0x00000150\\s+NT_PRSTATUS.*"), out);
        assertTrue(out.matches("(?s).*QEMU\\s+0x000001b8\\s.*"), out);
        assertTrue(out.matches("(?s).*VMCOREINFO\\s+0x0+" + Integer.toHexString(VMCOREINFO.length()) + "\\s.*"), out);
        assertFalse(out.toLowerCase().contains("warning"), out);
    }

    @Test
    void gdbReadsTheRegistersFromPrStatusAndMemoryThroughTheLoadSegments() throws Exception {
        Path gdb = HostTool.require("gdb", "apt-get install gdb");
        Path file = dir.resolve("guest.core");
        new ElfCoreWriter().write(guest, file).orThrow();
        long address = SyntheticGuest.HIGH_START + 0x2345;
        String out = run(List.of(gdb.toString(), "-nx", "-batch", "-c", file.toString(),
                "-ex", "info registers rip rsp rax r15 eflags cs fs_base",
                "-ex", String.format("x/4xb %#x", address)));
        Registers r = SyntheticGuest.registers();
        assertTrue(out.matches("(?s).*rip\\s+0x" + Long.toHexString(r.rip()) + "\\s.*"), out);
        assertTrue(out.matches("(?s).*rsp\\s+0x" + Long.toHexString(r.rsp()) + "\\s.*"), out);
        assertTrue(out.matches("(?s).*rax\\s+0x" + Long.toHexString(r.rax()) + "\\s.*"), out);
        assertTrue(out.matches("(?s).*r15\\s+0x" + Long.toHexString(r.r15()) + "\\s.*"), out);
        assertTrue(out.matches("(?s).*cs\\s+0x10\\s.*"), out);
        assertTrue(out.matches("(?s).*fs_base\\s+0x7f0000001000\\s.*"), out);
        StringBuilder bytes = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            bytes.append(String.format("\\s+0x%02x", SyntheticGuest.byteAt(address + i) & 0xff));
        }
        assertTrue(out.matches("(?s).*0x" + Long.toHexString(address) + ":" + bytes + ".*"), out);
    }

    private List<Path> listDir() throws IOException {
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    private static String run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "timed out: " + command);
        assertEquals(0, process.exitValue(), command + ":\n" + out);
        return out;
    }
}
