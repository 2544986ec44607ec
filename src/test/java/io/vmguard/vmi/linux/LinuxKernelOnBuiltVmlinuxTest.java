package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.BuiltGuest;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Introspection against the real guest kernel file (guest/build.sh's vmlinux, Linux 6.12 with BTF), laid out
 * in guest memory as loaded but never run: every kallsyms symbol, the BTF layouts and the statically
 * initialised kernel objects (init_task, the boot CPU's pcpu_hot, sys_call_table) are real.
 */
class LinuxKernelOnBuiltVmlinuxTest {
    private static VmlinuxInMemory image;
    private static SymbolTable systemMap;
    private static GuestView view;
    private static LinuxKernel kernel;

    @BeforeAll
    static void loadTheBuiltKernel() throws Exception {
        systemMap = SystemMap.read(BuiltGuest.systemMap());
        image = new VmlinuxInMemory(BuiltGuest.vmlinux(), 0);
        // The boot CPU's GS base before the per-CPU areas are set up: the initial copy of .data..percpu.
        view = image.view(systemMap.require("entry_SYSCALL_64"), systemMap.require("__per_cpu_load"));
        kernel = LinuxKernel.open(view);
    }

    @AfterAll
    static void release() {
        if (image != null) {
            image.close();
        }
    }

    @Test
    void theStructuralFinderRecoversEverySymbolOfSystemMapAtTheSameAddress() {
        assertSameSymbols(kallsymsView(systemMap), names(kernel.symbols()));
        assertTrue(kernel.symbols().size() > 10_000, "symbols: " + kernel.symbols().size());
    }

    @Test
    void perCpuSymbolsDecodeToOffsetsInThePerCpuArea() throws VmiException {
        Symbol hot = kernel.symbols().named("pcpu_hot").getFirst();
        assertTrue(hot.perCpu());
        assertEquals(systemMap.require("pcpu_hot"), hot.address());
        assertEquals(hot.address(), kernel.types().perCpuOffset("pcpu_hot").orElseThrow(), "kallsyms and BTF DATASEC agree");
    }

    @Test
    void anUnrelocatedImageHasNoSlideAndItsBannerReads() throws VmiException {
        assertEquals(0, kernel.slide());
        assertTrue(kernel.banner().startsWith("Linux version 6.12"), kernel.banner());
        assertEquals(List.of(), kernel.lstarMismatches());
    }

    @Test
    void btfLayoutsMatchTheStaticallyInitialisedInitTask() throws VmiException {
        KernelTypes types = kernel.types();
        long initTask = systemMap.require("init_task");
        var memory = kernel.memory();
        assertEquals(16, types.field("task_struct", "comm").size());
        assertEquals("swapper", memory.readCString(initTask + types.offsetOf("task_struct", "comm"), 16));
        assertEquals(0, memory.readInt(initTask + types.offsetOf("task_struct", "pid")));
        assertEquals(initTask, memory.readLong(initTask + types.offsetOf("task_struct", "real_parent")));
        assertEquals(systemMap.require("init_cred"), memory.readLong(initTask + types.offsetOf("task_struct", "cred")));
        assertEquals(systemMap.require("init_mm"), memory.readLong(initTask + types.offsetOf("task_struct", "active_mm")));
        long tasks = initTask + types.offsetOf("task_struct", "tasks");
        assertEquals(tasks, memory.readLong(tasks), "an empty task list points at itself");
        assertTrue(types.offsetOf("mm_struct", "mm_mt") > 0, "mm_struct's fields sit in an anonymous struct");
        assertEquals(0, types.offsetOf("pcpu_hot", "current_task"));
        assertTrue(types.enumValue("MOD_TEXT").isPresent());
    }

    @Test
    void theUnbootedImageHasOnlyTheIdleTaskOnItsTaskList() throws VmiException {
        List<LinuxTask> processes = kernel.processes();
        assertEquals(1, processes.size());
        LinuxTask idle = processes.getFirst();
        assertEquals(systemMap.require("init_task"), idle.address());
        assertEquals(0, idle.pid());
        assertEquals("swapper", idle.comm());
        assertEquals(0, idle.parentTgid());
        assertEquals(0, idle.uid());
        assertTrue(idle.kernelThread());
        assertEquals(0, idle.mm());
        assertEquals(List.of(), kernel.memoryMap(idle));
        assertEquals(List.of(idle), kernel.threads(idle));
    }

    @Test
    void theBootCpusCurrentTaskIsInitTask() throws VmiException {
        CurrentTask current = kernel.currentTasks().getFirst();
        assertEquals(systemMap.require("init_task"), current.task().address());
        assertEquals(systemMap.require("__per_cpu_load"), current.perCpuBase());
    }

    @Test
    void nothingIsRegisteredBeforeBoot() throws VmiException {
        assertEquals(List.of(), kernel.pidTable());
        assertEquals(List.of(), kernel.modules());
        assertEquals(List.of(), kernel.moduleKobjects());
    }

    @Test
    void sysCallTableEntriesResolveToTheirX64Handlers() throws VmiException {
        List<SyscallEntry> table = kernel.syscallTable();
        assertEquals("__x64_sys_read", table.get(0).symbol());
        assertEquals("__x64_sys_write", table.get(1).symbol());
        assertEquals("__x64_sys_exit", table.get(60).symbol());
        assertTrue(table.size() > 400 && table.size() < 600, "entries: " + table.size());
        for (SyscallEntry entry : table) {
            assertTrue(entry.symbol().startsWith("__x64_sys_") && !entry.symbol().contains("+"), entry.toString());
        }
    }

    @Test
    void x64SysCallsCodeRunsToTheNextSymbol() throws VmiException {
        FunctionCode code = kernel.functionCode("x64_sys_call");
        long start = systemMap.require("x64_sys_call");
        assertEquals(start, code.address());
        assertEquals(systemMap.nextAddressAfter(start).orElseThrow() - start, code.size());
        assertTrue(code.size() > 64, code.toString());
    }

    @Test
    void idtGatesNameTheirHandlers() throws Exception {
        long divide = systemMap.require("asm_exc_divide_error");
        long pageFault = systemMap.require("asm_exc_page_fault");
        image.ram.write(image.idtPhysical, IdtGateTest.gate(divide, 0x10, 0x8e00));
        image.ram.write(image.idtPhysical + 14 * 16, IdtGateTest.gate(pageFault, 0x10, 0x8e00));
        image.ram.write(image.idtPhysical + 3 * 16, IdtGateTest.gate(pageFault + 5, 0x10, 0xee00));
        List<IdtGate> idt = kernel.idt(view.vcpus().getFirst());
        assertEquals(256, idt.size());
        assertEquals("asm_exc_divide_error", idt.get(0).symbol());
        assertEquals("asm_exc_page_fault", idt.get(14).symbol());
        assertEquals("asm_exc_page_fault+0x5", idt.get(3).symbol());
        assertEquals(3, idt.get(3).dpl());
        assertFalse(idt.get(1).present());
    }

    @Test
    void theCacheReusesTheDiscoveredKernelWhileItStillMatches() throws VmiException {
        KernelCache cache = new KernelCache();
        DiscoveredKernel first = LinuxKernel.open(view, cache).discovered();
        assertSame(first, LinuxKernel.open(view, cache).discovered());
        cache.clear();
        assertNotSame(first, LinuxKernel.open(view, cache).discovered());
    }

    @Test
    void systemMapIsAnOptionalShortcutToTheSameSymbols() throws VmiException {
        LinuxKernel fromMap = LinuxKernel.open(view, systemMap);
        assertEquals(0, fromMap.slide());
        assertEquals(kernel.banner(), fromMap.banner());
        assertEquals(kernel.processes(), fromMap.processes());
    }

    @Test
    void aKaslrSlideIsFoundFromTheTablesAlone() throws Exception {
        long slide = 0x1e00_0000L;
        try (VmlinuxInMemory moved = new VmlinuxInMemory(BuiltGuest.vmlinux(), slide)) {
            // The decompressor's relocation moves kallsyms_relative_base (it is emitted as _text + offset).
            long relativeBase = moved.physicalOf(systemMap.require("kallsyms_relative_base") + slide);
            moved.ram.writeLong(relativeBase, moved.ram.readLong(relativeBase) + slide);
            LinuxKernel slid = LinuxKernel.open(moved.view(systemMap.require("entry_SYSCALL_64") + slide, 0));
            assertEquals(slide, slid.slide());
            assertSameSymbols(kallsymsView(systemMap.slid(slide)), names(slid.symbols()));
            assertEquals(kernel.banner(), slid.banner());
            assertEquals(List.of(), slid.lstarMismatches());
        }
    }

    /** Equal name -> addresses maps, or a failure listing the first differences (not two 50 000-entry maps). */
    private static void assertSameSymbols(Map<String, List<Long>> expected, Map<String, List<Long>> actual) {
        List<String> differences = new ArrayList<>();
        for (var e : expected.entrySet()) {
            if (!e.getValue().equals(actual.get(e.getKey()))) {
                differences.add(e.getKey() + ": System.map " + hex(e.getValue()) + ", kallsyms " + hex(actual.get(e.getKey())));
            }
        }
        for (String name : actual.keySet()) {
            if (!expected.containsKey(name)) {
                differences.add(name + ": only in kallsyms " + hex(actual.get(name)));
            }
        }
        assertTrue(differences.isEmpty(), differences.size() + " differences of " + expected.size() + " names, first: "
                + differences.subList(0, Math.min(20, differences.size())));
    }

    private static String hex(List<Long> addresses) {
        return addresses == null ? "none" : addresses.stream().map(Long::toHexString).toList().toString();
    }

    /** System.map less what kallsyms leaves out (absolute symbols but four), as name -> sorted addresses. */
    private static Map<String, List<Long>> kallsymsView(SymbolTable map) {
        Set<String> keptAbsolute = Set.of("__kernel_syscall_via_break", "__kernel_syscall_via_epc", "__kernel_sigtramp", "__gp");
        return group(map.symbols().stream()
                .filter(s -> Character.toUpperCase(s.type()) != 'A' || keptAbsolute.contains(s.name())).toList());
    }

    private static Map<String, List<Long>> names(SymbolTable table) {
        return group(table.symbols());
    }

    private static Map<String, List<Long>> group(List<Symbol> symbols) {
        Map<String, List<Long>> byName = new HashMap<>();
        for (Symbol s : symbols) {
            byName.computeIfAbsent(s.name(), n -> new ArrayList<>()).add(s.address());
        }
        byName.values().forEach(Collections::sort);
        return byName.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }
}
