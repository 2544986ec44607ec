package io.vmguard.vmi.integrity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.integrity.KernelFacts.Gate;
import io.vmguard.vmi.integrity.KernelFacts.ModuleFact;
import io.vmguard.vmi.integrity.KernelFacts.PageHash;
import io.vmguard.vmi.integrity.KernelFacts.TaskFact;
import io.vmguard.vmi.integrity.KernelFacts.VcpuFacts;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Each check sees its one change, says what changed from what to what, and a clean comparison finds nothing. */
class IntegrityChecksTest {
    static final long LSTAR = 0xffffffff81a00000L;
    static final AddressNames NAMES = address -> address == LSTAR ? "entry_SYSCALL_64" : AddressNames.hex(address);

    static KernelFacts facts(long cr0, long lstar, long[] table, byte[] dispatch, Gate gate0, Map<String, ModuleFact> modules,
                             Map<Integer, TaskFact> tasks, long textHash) {
        VcpuFacts cpu = new VcpuFacts(0, cr0, 1L << 20, 0xd01, Map.of(Msr.LSTAR, lstar), 0xfffffe0000001000L, 127,
                new byte[128], 0xfffffe0000000000L, 4095, List.of(gate0));
        return new KernelFacts(List.of(cpu), table, dispatch, Map.of(0x1000L, new PageHash(textHash, 0, 0, 0)), Map.of(),
                modules, modules.keySet(), tasks, tasks.keySet(), Map.of(0, 1));
    }

    static KernelFacts clean() {
        return facts(0x80050033L, LSTAR, new long[] {1, 2, 3}, new byte[] {(byte) 0xe8, 1, 2, 3, 4},
                new Gate(0, 0xffffffff81000100L, 0x10, 14, 0, 0, true), Map.of("vgattack", new ModuleFact("vgattack", 1, 2)),
                Map.of(1, new TaskFact(1, "init", 0, 0x100), 2, new TaskFact(2, "kthreadd", 0, 0x200)), 7);
    }

    @Test
    void identicalFactsFindNothing() {
        assertEquals(List.of(), new IntegrityChecks(NAMES).compare(clean(), clean()));
    }

    @Test
    void eachChangeIsFoundWithOldAndNewValues() {
        KernelFacts base = clean();
        KernelFacts now = facts(0x80040033L, 0xffffffffc0001000L, new long[] {1, 9, 3}, new byte[] {(byte) 0xe8, 1, 2, 3, 5},
                new Gate(0, 0xffffffffc0002000L, 0x10, 14, 0, 0, true), Map.of(),
                Map.of(1, new TaskFact(1, "init", 0, 0x100)), 8);
        // The module's kobject stays (a module unlinked from the list), as does PID 2 in the PID table.
        now = new KernelFacts(now.vcpus(), now.syscallTable(), now.syscallDispatch(), now.textPages(), now.rodataPages(),
                now.modules(), Set.of("vgattack"), now.tasks(), Set.of(1, 2), Map.of(0, 2));

        Map<String, Finding> byCheck = new HashMap<>();
        new IntegrityChecks(NAMES).compare(base, now).forEach(f -> byCheck.put(f.check(), f));

        assertEquals(Set.of("syscall-table", "syscall-dispatch", "cr0-wp", "msr", "idt", "kernel-text", "hidden-module",
                "hidden-process"), byCheck.keySet());
        assertEquals(1, byCheck.get("syscall-table").details().get("entry"));
        assertEquals("0x2", byCheck.get("syscall-table").details().get("old"));
        assertEquals("0x9", byCheck.get("syscall-table").details().get("new"));
        assertEquals("0x4", byCheck.get("syscall-dispatch").details().get("offset"));
        assertEquals("entry_SYSCALL_64", byCheck.get("msr").details().get("old_symbol"));
        assertEquals("LSTAR", byCheck.get("msr").details().get("msr"));
        assertEquals("0xffffffffc0002000", byCheck.get("idt").details().get("new"));
        assertEquals("vgattack", byCheck.get("hidden-module").details().get("module"));
        assertEquals(2, byCheck.get("hidden-process").details().get("pid"));
    }

    @Test
    void theTssBusyBitTogglingIsNotAGdtChange() {
        KernelFacts base = clean();
        byte[] gdt = new byte[128];
        gdt[16 * 8 / 2 + 5] = (byte) 0x89; // descriptor 8: an available 64-bit TSS
        byte[] busy = gdt.clone();
        busy[16 * 8 / 2 + 5] = (byte) 0x8b;
        VcpuFacts a = base.vcpus().getFirst();
        VcpuFacts b = new VcpuFacts(0, a.cr0(), a.cr4(), a.efer(), a.syscallMsrs(), a.gdtBase(), a.gdtLimit(), busy,
                a.idtBase(), a.idtLimit(), a.idt());
        VcpuFacts withAvailable = new VcpuFacts(0, a.cr0(), a.cr4(), a.efer(), a.syscallMsrs(), a.gdtBase(), a.gdtLimit(), gdt,
                a.idtBase(), a.idtLimit(), a.idt());
        KernelFacts before = withVcpu(base, withAvailable);
        assertEquals(List.of(), new IntegrityChecks(NAMES).compare(before, withVcpu(base, b)));
        busy[12 * 8] = 1; // a TLS descriptor: rewritten per task, no violation
        assertEquals(List.of(), new IntegrityChecks(NAMES).compare(before, withVcpu(base, b)));
        busy[3] = 1;
        assertEquals("gdt", new IntegrityChecks(NAMES).compare(before, withVcpu(base, b)).getFirst().check());
    }

    private static KernelFacts withVcpu(KernelFacts f, VcpuFacts cpu) {
        return new KernelFacts(List.of(cpu), f.syscallTable(), f.syscallDispatch(), f.textPages(), f.rodataPages(), f.modules(),
                f.moduleKobjects(), f.tasks(), f.pidTable(), f.runningTasks());
    }

    @Test
    void trappedActionsAreJudgedAgainstTheBaselineWithTheSameSubjectsAsThePeriodicChecks() {
        WatchedRegions regions = new WatchedRegions(Map.of(0x1L, new WatchedRegions.Frame("kernel-text", 0xffffffff81000000L)));
        TrapClassifier classifier = new TrapClassifier(clean(), regions, NAMES);

        Finding write = classifier.classify(new MonitorEvent.PhysicalWrite(0, 0xffffffffc0000010L, 0x5000, 0x1010, 1, 0x55, 0xcc))
                .orElseThrow();
        assertEquals("kernel-text", write.check());
        assertEquals("0xffffffff81000010", write.details().get("address"));
        assertEquals("frame 0x1000", write.subject());
        assertTrue(classifier.classify(new MonitorEvent.PhysicalWrite(0, 1, 2, 0x1010, 1, 0x55, 0x55)).isEmpty(),
                "rewriting the same value changes nothing");
        assertTrue(classifier.classify(new MonitorEvent.PhysicalWrite(0, 1, 2, 0x9010, 1, 0x55, 0x56)).isEmpty(),
                "an unwatched frame");

        assertEquals("cr0-wp", classifier.classify(new MonitorEvent.ControlRegisterWrite(0, 1, 2, 0, 0x80050033L, 0x80040033L))
                .orElseThrow().check());
        assertTrue(classifier.classify(new MonitorEvent.ControlRegisterWrite(0, 1, 2, 0, 0x80040033L, 0x80050033L)).isEmpty(),
                "setting WP again is no violation");
        assertEquals("msr", classifier.classify(new MonitorEvent.MsrWrite(0, 1, 2, Msr.LSTAR, LSTAR, 0xffffffffc0001000L))
                .orElseThrow().check());
        assertTrue(classifier.classify(new MonitorEvent.MsrWrite(0, 1, 2, Msr.LSTAR, 0, LSTAR)).isEmpty(),
                "writing the baseline value");
        assertEquals("idtr", classifier.classify(new MonitorEvent.DescriptorTableLoad(0, 1, 2, MonitorEvent.Table.IDT,
                0xfffffe0000000000L, 4095, 0xffff888000123000L, 4095)).orElseThrow().check());
    }
}
