package io.vmguard.vmi.integrity;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.Translation;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import io.vmguard.vmi.integrity.KernelFacts.Gate;
import io.vmguard.vmi.integrity.KernelFacts.ModuleFact;
import io.vmguard.vmi.integrity.KernelFacts.PageHash;
import io.vmguard.vmi.integrity.KernelFacts.TaskFact;
import io.vmguard.vmi.integrity.KernelFacts.VcpuFacts;
import io.vmguard.vmi.linux.CurrentTask;
import io.vmguard.vmi.linux.IdtGate;
import io.vmguard.vmi.linux.KernelCache;
import io.vmguard.vmi.linux.LinuxKernel;
import io.vmguard.vmi.linux.LinuxTask;
import io.vmguard.vmi.linux.LoadedModule;
import io.vmguard.vmi.linux.ModuleKobject;
import io.vmguard.vmi.linux.PidEntry;
import io.vmguard.vmi.linux.SymbolTable;
import io.vmguard.vmi.linux.SyscallEntry;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@link FactsSource} for a Linux guest, with no profile: the kernel is found in guest memory (kallsyms,
 * BTF) once and re-checked each pass through a {@link KernelCache}. Kernel text is {@code [_stext, _etext)},
 * read-only data {@code [__start_rodata, __end_rodata)} (sys_call_table and BTF live there); the IDT frames
 * are whatever each vCPU's IDTR maps to.
 */
public final class LinuxFactsSource implements FactsSource {
    private static final int PAGE = 4096;
    /** A GDT larger than this is not Linux's (it has 16 descriptors plus the TSS); bounds the read. */
    private static final int MAX_GDT = 0x1000;

    private final KernelCache cache = new KernelCache();
    /** The latest pass's kernel symbols and modules, for naming addresses on vCPU threads without a view. */
    private volatile Naming naming = new Naming(null, null, List.of());

    /** Kernel virtual addresses modules are loaded at (x86-64 MODULES_VADDR..MODULES_END). */
    private static final long MODULES_START = 0xffff_ffff_c000_0000L, MODULES_END = 0xffff_ffff_ff00_0000L;

    /**
     * Names kernel addresses by the latest pass's symbols and modules. An address in the module area that no
     * known module covers (one loaded since the pass, typically the very module whose write just trapped)
     * re-reads the module list from live memory through that pass's kernel model: safe on the vCPU thread
     * that reports, which is the only one running guest code.
     */
    private static final class Naming implements AddressNames {
        private final SymbolTable symbols;
        private final LinuxKernel kernel;
        private List<LoadedModule> modules;

        Naming(SymbolTable symbols, LinuxKernel kernel, List<LoadedModule> modules) {
            this.symbols = symbols;
            this.kernel = kernel;
            this.modules = modules;
        }

        @Override
        public synchronized String nameOf(long address) {
            if (symbols != null && symbols.containing(address).isPresent()) {
                return symbols.describe(address);
            }
            String known = inModule(address);
            if (known == null && kernel != null && address >= MODULES_START && address < MODULES_END) {
                try {
                    modules = kernel.modules();
                } catch (VmiException e) {
                    // the list is being changed under us: the bare address has to do
                }
                known = inModule(address);
            }
            return known != null ? known : AddressNames.hex(address);
        }

        synchronized Optional<String> processForCr3(long cr3) {
            if (kernel == null) {
                return Optional.empty();
            }
            try {
                return kernel.processForCr3(cr3).map(task -> task.pid() + " " + task.comm());
            } catch (VmiException e) {
                return Optional.empty();
            }
        }

        private String inModule(long address) {
            for (LoadedModule module : modules) {
                for (LoadedModule.Region region : module.memory()) {
                    if (region.contains(address)) {
                        return "[" + module.name() + "]+0x" + Long.toHexString(address - module.base());
                    }
                }
            }
            return null;
        }
    }

    /** The kernel as this view shows it (found once, re-checked each time). */
    public LinuxKernel kernel(GuestView view) throws VmiException {
        return LinuxKernel.open(view, cache);
    }

    @Override
    public boolean initStarted(GuestView view) {
        try {
            LinuxKernel kernel = kernel(view);
            // PID 1 with an address space of its own: the kernel has exec'd init, after freeing its init
            // memory and making text and read-only data read-only (kernel_init -> mark_readonly).
            return kernel.processes().stream().anyMatch(task -> task.pid() == 1 && task.mm() != 0);
        } catch (VmiException e) {
            return false; // not booted far enough to be found: ask again later
        }
    }

    @Override
    public KernelFacts read(GuestView view, BitSet rehash, KernelFacts previous) throws VmiException {
        LinuxKernel kernel = kernel(view);
        List<LoadedModule> modules = kernel.modules();
        naming = new Naming(kernel.symbols(), kernel, modules);

        List<VcpuFacts> vcpus = new ArrayList<>();
        for (VcpuState vcpu : view.vcpus()) {
            vcpus.add(vcpu(kernel, view, vcpu));
        }
        long[] table = previous == null
                ? kernel.syscallTable().stream().mapToLong(SyscallEntry::handler).toArray()
                : rawTable(kernel, previous.syscallTable().length); // no names: those are for reports only
        byte[] dispatch = kernel.functionCode("x64_sys_call").code();

        Map<Long, PageHash> text = hashes(kernel, range(kernel, "_stext", "_etext"), rehash,
                previous == null ? Map.of() : previous.textPages());
        Map<Long, PageHash> rodata = hashes(kernel, range(kernel, "__start_rodata", "__end_rodata"), rehash,
                previous == null ? Map.of() : previous.rodataPages());

        Map<String, ModuleFact> listed = new LinkedHashMap<>();
        for (LoadedModule module : modules) {
            listed.put(module.name(), new ModuleFact(module.name(), module.base(), module.size()));
        }
        Set<String> kobjects = new HashSet<>();
        for (ModuleKobject kobject : kernel.moduleKobjects()) {
            if (kobject.module() != 0) { // built-in "modules" in /sys/module (parameters only) have none
                kobjects.add(kobject.name());
            }
        }
        Map<Integer, TaskFact> tasks = new LinkedHashMap<>();
        Map<Long, String> byRoot = new HashMap<>();
        for (LinuxTask process : kernel.processes()) {
            addRoot(byRoot, process);
            for (LinuxTask thread : kernel.threads(process)) {
                tasks.put(thread.pid(), new TaskFact(thread.pid(), thread.comm(), thread.parentTgid(), thread.address()));
            }
            tasks.putIfAbsent(process.pid(), new TaskFact(process.pid(), process.comm(), process.parentTgid(), process.address()));
        }
        Set<Integer> pids = new HashSet<>();
        for (PidEntry entry : kernel.pidTable()) {
            if (entry.hasTask()) {
                pids.add(entry.nr());
            }
        }
        Map<Integer, Integer> running = new LinkedHashMap<>();
        for (CurrentTask current : kernel.currentTasks()) {
            running.put(current.vcpu(), current.task().pid());
        }
        lastRoots = new RootsOfView(view, byRoot);
        return new KernelFacts(vcpus, table, dispatch, text, rodata, listed, kobjects, tasks, pids, running);
    }

    private static VcpuFacts vcpu(LinuxKernel kernel, GuestView view, VcpuState vcpu) throws VmiException {
        Map<Integer, Long> msrs = new LinkedHashMap<>();
        for (int msr : Msr.SYSCALL_ENTRY) {
            if (vcpu.msrs().containsKey(msr)) {
                msrs.put(msr, vcpu.msr(msr));
            }
        }
        var special = vcpu.special();
        int gdtSize = Math.min(MAX_GDT, special.gdt().limit() + 1);
        byte[] gdt = VirtualMemory.forVcpu(view.memory(), vcpu).readBytes(special.gdt().base(), gdtSize);
        List<Gate> idt = new ArrayList<>();
        for (IdtGate gate : kernel.idtUnnamed(vcpu)) { // names only for what a report says changed
            idt.add(new Gate(gate.vector(), gate.target(), gate.selector(), gate.type(), gate.dpl(), gate.ist(), gate.present()));
        }
        return new VcpuFacts(vcpu.index(), special.cr0(), special.cr4(), special.efer(), msrs, special.gdt().base(),
                special.gdt().limit(), gdt, special.idt().base(), special.idt().limit(), idt);
    }

    private static long[] rawTable(LinuxKernel kernel, int entries) throws VmiException {
        long address = kernel.symbols().require("sys_call_table");
        byte[] bytes = kernel.memory().readBytes(address, 8 * entries);
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long[] table = new long[entries];
        for (int i = 0; i < entries; i++) {
            table[i] = buffer.getLong();
        }
        return table;
    }

    /** [start, end) of a kernel region by its bounding symbols. */
    private record Range(long start, long end) {}

    private static Range range(LinuxKernel kernel, String start, String end) throws VmiException {
        long from = kernel.symbols().require(start);
        long to = kernel.symbols().require(end);
        if (to <= from || to - from > (1L << 30)) {
            throw new VmiException(String.format("implausible kernel region %s..%s (%#x..%#x)", start, end, from, to));
        }
        return new Range(from & ~(PAGE - 1L), (to + PAGE - 1) & ~(PAGE - 1L));
    }

    /** Frame number → hash for every page of the range: computed where asked (or all), else carried over. */
    private static Map<Long, PageHash> hashes(LinuxKernel kernel, Range range, BitSet rehash, Map<Long, PageHash> previous)
            throws VmiException {
        MessageDigest sha256 = sha256();
        byte[] page = new byte[PAGE];
        if (rehash != null && !previous.isEmpty()) {
            // The image's frames do not move after boot: carry the known hashes over and re-hash only the
            // frames written since, with no page-table walk at all.
            if (rehash.isEmpty()) {
                return previous;
            }
            Map<Long, PageHash> hashes = new HashMap<>(previous);
            for (int frame = rehash.nextSetBit(0); frame >= 0; frame = rehash.nextSetBit(frame + 1)) {
                if (hashes.containsKey((long) frame)) {
                    if (!kernel.view().memory().read((long) frame << 12, page, 0, PAGE)) {
                        throw new VmiException(String.format("kernel frame %#x is not RAM", (long) frame << 12));
                    }
                    hashes.put((long) frame, PageHash.of(sha256.digest(page)));
                }
            }
            return hashes;
        }
        Map<Long, PageHash> hashes = new HashMap<>();
        for (long address = range.start(); address < range.end(); address += PAGE) {
            long frame = kernel.memory().physicalAddress(address) >>> 12;
            PageHash known = previous.get(frame);
            if (known != null && rehash != null && !rehash.get(Math.toIntExact(frame))) {
                hashes.put(frame, known);
                continue;
            }
            if (!kernel.view().memory().read(frame << 12, page, 0, PAGE)) {
                throw new VmiException(String.format("kernel page %#x maps outside RAM", address), address);
            }
            hashes.put(frame, PageHash.of(sha256.digest(page)));
        }
        return hashes;
    }

    @Override
    public WatchedRegions regions(GuestView view) throws VmiException {
        LinuxKernel kernel = kernel(view);
        Map<Long, WatchedRegions.Frame> frames = new HashMap<>();
        watch(kernel, range(kernel, "_stext", "_etext"), "kernel-text", frames);
        watch(kernel, range(kernel, "__start_rodata", "__end_rodata"), "kernel-rodata", frames);
        for (VcpuState vcpu : view.vcpus()) {
            VirtualMemory memory = VirtualMemory.forVcpu(view.memory(), vcpu);
            long base = vcpu.special().idt().base();
            long end = base + vcpu.special().idt().limit() + 1;
            for (long address = base & ~(PAGE - 1L); address < end; address += PAGE) {
                Optional<Translation> translation = memory.translate(address);
                if (translation.isPresent()) {
                    frames.put(translation.get().physicalAddress() >>> 12, new WatchedRegions.Frame("idt", address));
                }
            }
        }
        return new WatchedRegions(frames);
    }

    private static void watch(LinuxKernel kernel, Range range, String check, Map<Long, WatchedRegions.Frame> frames)
            throws VmiException {
        for (long address = range.start(); address < range.end(); address += PAGE) {
            frames.putIfAbsent(kernel.memory().physicalAddress(address) >>> 12, new WatchedRegions.Frame(check, address));
        }
    }

    @Override
    public AddressNames names() {
        return address -> naming.nameOf(address);
    }

    @Override
    public Optional<String> processOf(GuestView view, int vcpu) {
        try {
            LinuxKernel kernel = kernel(view);
            LinuxTask task = kernel.currentTask(view.vcpus().get(vcpu)).task();
            return Optional.of(task.pid() + " " + task.comm());
        } catch (VmiException | IndexOutOfBoundsException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<String> processByRootNow(long cr3) {
        return naming.processForCr3(cr3);
    }

    /** The page-table roots {@link #read} saw in a view, so a pass walks the task list once. */
    private record RootsOfView(GuestView view, Map<Long, String> roots) {}

    private volatile RootsOfView lastRoots;

    @Override
    public Map<Long, String> processesByRoot(GuestView view) throws VmiException {
        RootsOfView known = lastRoots;
        if (known != null && known.view() == view) {
            return known.roots();
        }
        Map<Long, String> byRoot = new HashMap<>();
        for (LinuxTask process : kernel(view).processes()) {
            addRoot(byRoot, process);
        }
        return byRoot;
    }

    /** A process under its page-table root (PTI's user-half bit aside), as alarms name it: "pid comm". */
    private static void addRoot(Map<Long, String> byRoot, LinuxTask process) {
        if (process.pageTableRoot() != 0) {
            byRoot.put(process.pageTableRoot() & ~0x1000L, process.pid() + " " + process.comm());
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
