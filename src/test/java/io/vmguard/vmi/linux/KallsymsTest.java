package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import io.vmguard.vmi.GuestPhysicalMemory;
import io.vmguard.vmi.PageSize;
import io.vmguard.vmi.PageTableBuilder;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.TestRam;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class KallsymsTest {
    private static final long TEXT = 0xffff_ffff_8100_0000L;
    private static final long WINDOW = 0xffff_ffff_8000_0000L;
    private static final long BLOB_PHYSICAL = 0x21_0000;

    private final GuestMemory ram = TestRam.of(8 << 20);
    private final PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
    private final VirtualMemory memory = new VirtualMemory(new GuestPhysicalMemory(ram),
            new PageTableWalker(new GuestPhysicalMemory(ram), tables.root(), false));

    KallsymsTest() {
        tables.mapRange(TEXT, 0x20_0000, 4 << 20, PageSize.SIZE_2M);
    }

    @ParameterizedTest(name = "{0} symbols")
    @ValueSource(ints = {40, 300, 600})
    void everySymbolIsRecoveredWithItsAddressTypeAndPerCpuOffset(int count) throws VmiException {
        List<SyntheticKallsyms.Entry> entries = entries(count);
        place(SyntheticKallsyms.build(entries));

        SymbolTable symbols = KallsymsDecoder.decode(memory, find());

        assertEquals(entries.size(), symbols.size());
        for (SyntheticKallsyms.Entry e : entries) {
            Symbol symbol = symbols.named(e.name()).getFirst();
            assertEquals(e.address(), symbol.address(), e.name());
            assertEquals(e.perCpu(), symbol.perCpu(), e.name());
            assertEquals(e.perCpu() ? 'A' : e.type(), symbol.type(), e.name());
        }
        assertEquals(0x1_c000, symbols.require("current_task"));
        assertEquals("sys_read+0x4", symbols.describe(symbols.require("sys_read") + 4));
    }

    @Test
    void aDecoyDigitRunBeforeTheTablesIsRejected() throws VmiException {
        ram.write(0x20_1000, "0\0001\0002\0003\0004\0005\0006\0007\0008\0009\000".getBytes(StandardCharsets.US_ASCII));
        place(SyntheticKallsyms.build(entries(300)));
        KallsymsTables found = find();
        assertEquals(TEXT + BLOB_PHYSICAL - 0x20_0000, found.numSyms());
    }

    @Test
    void namesLongerThan127BytesUseTheTwoByteLength() throws VmiException {
        List<SyntheticKallsyms.Entry> entries = entries(40);
        String longName = "x".repeat(200);
        entries.add(new SyntheticKallsyms.Entry(longName, 't', TEXT + 0x9000, false));
        place(SyntheticKallsyms.build(entries));
        assertEquals(TEXT + 0x9000, KallsymsDecoder.decode(memory, find()).require(longName));
    }

    @Test
    void namesOutOfOrderInSeqsOfNamesFailDecoding() throws VmiException {
        SyntheticKallsyms.Blob blob = SyntheticKallsyms.build(entries(40));
        place(blob);
        KallsymsTables found = find();
        long seqs = found.seqsOfNames() - TEXT + 0x20_0000;
        byte first = ram.readByte(seqs + 2);
        ram.writeByte(seqs + 2, ram.readByte(seqs + 5));
        ram.writeByte(seqs + 5, first);
        VmiException failure = assertThrows(VmiException.class, () -> KallsymsDecoder.decode(memory, found));
        assertTrue(failure.getMessage().contains("seqs_of_names"), failure.getMessage());
    }

    @Test
    void memoryWithoutTablesIsAClearFailure() {
        VmiException failure = assertThrows(VmiException.class, this::find);
        assertTrue(failure.getMessage().startsWith("no kallsyms tables found"), failure.getMessage());
    }

    private KallsymsTables find() throws VmiException {
        return KallsymsFinder.find(memory, memory.walker().mappedRanges(WINDOW, WINDOW + (1L << 30)));
    }

    private void place(SyntheticKallsyms.Blob blob) {
        ram.fill(BLOB_PHYSICAL - 64, 64, (byte) 0x5a); // rodata before the tables is not zero
        ram.write(BLOB_PHYSICAL, blob.bytes());
    }

    /** _text, text functions, data, and two per-CPU variables, as a kernel has them. */
    static List<SyntheticKallsyms.Entry> entries(int count) {
        List<SyntheticKallsyms.Entry> entries = new ArrayList<>();
        entries.add(new SyntheticKallsyms.Entry("fixed_percpu_data", 'D', 0, true));
        entries.add(new SyntheticKallsyms.Entry("current_task", 'D', 0x1_c000, true));
        entries.add(new SyntheticKallsyms.Entry("_text", 'T', TEXT, false));
        entries.add(new SyntheticKallsyms.Entry("_stext", 'T', TEXT + 0x1000, false));
        entries.add(new SyntheticKallsyms.Entry("sys_read", 'T', TEXT + 0x2000, false));
        entries.add(new SyntheticKallsyms.Entry("entry_SYSCALL_64", 'T', TEXT + 0x3000, false));
        for (int i = 0; i < count - 8; i++) {
            entries.add(new SyntheticKallsyms.Entry("fn_" + i, i % 2 == 0 ? 't' : 'T', TEXT + 0x10000 + 16L * i, false));
        }
        entries.add(new SyntheticKallsyms.Entry("_etext", 'T', TEXT + 0x20_0000, false));
        entries.add(new SyntheticKallsyms.Entry("init_task", 'D', TEXT + 0x30_0000, false));
        return entries;
    }
}
