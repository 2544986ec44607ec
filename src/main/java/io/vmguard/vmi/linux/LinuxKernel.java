package io.vmguard.vmi.linux;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A running Linux guest as one introspection pass sees it, with no per-kernel profile: symbols from its own
 * kallsyms, layouts from its own BTF (see {@link KernelDiscovery}). Make one per {@link GuestView} (per
 * pass); the costly discovery is shared through a {@link KernelCache}. Every read follows guest pointers,
 * so every read can fail with a {@link VmiException} that says what it was reading; none changes the guest.
 *
 * <p>Methods for a live-guest test or a check: {@link #processes()}, {@link #threads}, {@link #task(long)},
 * {@link #pidTable()}, {@link #currentTasks()}, {@link #memoryMap}, {@link #modules()},
 * {@link #moduleKobjects()}, {@link #syscallTable()}, {@link #functionCode} (e.g. {@code x64_sys_call}),
 * {@link #idt}, {@link #describe}, {@link #lstarMismatches()}, {@link #processForCr3}.
 */
public final class LinuxKernel {
    private final GuestView view;
    private final DiscoveredKernel kernel;
    private final VirtualMemory memory;
    private List<LoadedModule> modulesForNames;

    private LinuxKernel(GuestView view, DiscoveredKernel kernel) {
        this.view = view;
        this.kernel = kernel;
        this.memory = new VirtualMemory(view.memory(),
                new PageTableWalker(view.memory(), kernel.kernelRoot(), kernel.fiveLevel()));
    }

    /** Discovers the kernel from scratch (a scan and a BTF parse: use a {@link KernelCache} across passes). */
    public static LinuxKernel open(GuestView view) throws VmiException {
        return new LinuxKernel(view, KernelDiscovery.discover(view));
    }

    /** The kernel the cache knows, re-checked against this view, or discovered afresh. */
    public static LinuxKernel open(GuestView view, KernelCache cache) throws VmiException {
        return new LinuxKernel(view, cache.kernel(view));
    }

    /** With a System.map at link-time addresses as the symbol source (slid to where LSTAR says the kernel is). */
    public static LinuxKernel open(GuestView view, SymbolTable systemMap) throws VmiException {
        return new LinuxKernel(view, KernelDiscovery.discover(view, systemMap));
    }

    public GuestView view() {
        return view;
    }

    public DiscoveredKernel discovered() {
        return kernel;
    }

    public SymbolTable symbols() {
        return kernel.symbols();
    }

    /** The KASLR slide: run-time {@code _text} minus 0xffffffff81000000. */
    public long slide() {
        return kernel.slide();
    }

    /** The {@code linux_banner} text ("Linux version ..."). */
    public String banner() {
        return kernel.banner();
    }

    /** The kernel's address space for this pass. */
    public VirtualMemory memory() {
        return memory;
    }

    public boolean hasTypes() {
        return kernel.types().isPresent();
    }

    /** The kernel's BTF layouts, or a failure naming why they are missing. */
    public KernelTypes types() throws VmiException {
        return kernel.types().orElseThrow(() -> new VmiException("the kernel's BTF is unavailable: " + kernel.typesProblem()));
    }

    /**
     * Indexes of the vCPUs whose LSTAR is not {@code entry_SYSCALL_64}. Reported, never fatal: a redirected
     * LSTAR is what an integrity check must see, not a reason for introspection to go blind.
     */
    public List<Integer> lstarMismatches() throws VmiException {
        long entry = symbols().require("entry_SYSCALL_64");
        return view.vcpus().stream().filter(v -> v.lstar() != entry).map(VcpuState::index).toList();
    }

    /** Every process (thread-group leader) on init_task's list, init_task (PID 0, the idle task) first. */
    public List<LinuxTask> processes() throws VmiException {
        return new TaskReader(context()).processes();
    }

    /**
     * The process whose page tables a CR3 value selects, compared without the PCID bits; failing an exact
     * match, as the user half of a PTI pair (whose PGD is the kernel half's plus 4 KiB).
     */
    public Optional<LinuxTask> processForCr3(long cr3) throws VmiException {
        long root = cr3 & 0x000f_ffff_ffff_f000L;
        List<LinuxTask> processes = processes();
        for (long candidate : new long[] {root, root & ~0x1000L}) {
            for (LinuxTask process : processes) {
                if (process.pageTableRoot() != 0 && process.pageTableRoot() == candidate) {
                    return Optional.of(process);
                }
            }
        }
        return Optional.empty();
    }

    /** The threads of {@code process}'s thread group. */
    public List<LinuxTask> threads(LinuxTask process) throws VmiException {
        return new TaskReader(context()).threads(process);
    }

    /** The task_struct at {@code address}. */
    public LinuxTask task(long address) throws VmiException {
        return new TaskReader(context()).task(address);
    }

    /** The initial PID namespace's PID table, one entry per PID (threads included). */
    public List<PidEntry> pidTable() throws VmiException {
        return new PidTableReader(context()).entries();
    }

    public CurrentTask currentTask(VcpuState vcpu) throws VmiException {
        return new TaskReader(context()).current(vcpu);
    }

    /**
     * The task running on the CPU whose per-CPU area is at {@code perCpuBase} (what KERNEL_GS_BASE holds while
     * user code runs): names the process behind a trapped event without a consistent view of every vCPU.
     */
    public LinuxTask taskOnCpu(long perCpuBase) throws VmiException {
        return new TaskReader(context()).currentAt(perCpuBase);
    }

    /** Each vCPU's current task, in vCPU order. */
    public List<CurrentTask> currentTasks() throws VmiException {
        TaskReader reader = new TaskReader(context());
        List<CurrentTask> current = new ArrayList<>();
        for (VcpuState vcpu : view.vcpus()) {
            current.add(reader.current(vcpu));
        }
        return current;
    }

    /** The VMAs of {@code task}'s address space, in address order; empty for kernel threads. */
    public List<MemoryArea> memoryMap(LinuxTask task) throws VmiException {
        return new MemoryMapReader(context()).areas(task);
    }

    public List<LoadedModule> modules() throws VmiException {
        return new ModuleReader(context()).modules();
    }

    public List<ModuleKobject> moduleKobjects() throws VmiException {
        return new ModuleReader(context()).kobjects();
    }

    /** sys_call_table, each handler named. In 6.x the table no longer dispatches (x64_sys_call does) but is still checked. */
    public List<SyscallEntry> syscallTable() throws VmiException {
        return new SyscallTableReader(context(false)).entries();
    }

    /** The code of kernel function {@code name} (e.g. {@code x64_sys_call}), to the next symbol. */
    public FunctionCode functionCode(String name) throws VmiException {
        return new SyscallTableReader(context(false)).function(name);
    }

    /** The vCPU's IDT (from its IDTR, through its own page tables): up to 256 gates, each target named. */
    public List<IdtGate> idt(VcpuState vcpu) throws VmiException {
        return idt(vcpu, this::describe);
    }

    /** As {@link #idt(VcpuState)} without naming the targets (empty symbols): for comparisons, which name only what changed. */
    public List<IdtGate> idtUnnamed(VcpuState vcpu) throws VmiException {
        return idt(vcpu, address -> "");
    }

    private List<IdtGate> idt(VcpuState vcpu, IdtGate.SymbolNamer namer) throws VmiException {
        long base = vcpu.special().idt().base();
        int gates = Math.min(256, (vcpu.special().idt().limit() + 1) / 16);
        byte[] table = VirtualMemory.forVcpu(view.memory(), vcpu).readBytes(base, 16 * gates);
        List<IdtGate> idt = new ArrayList<>(gates);
        for (int vector = 0; vector < gates; vector++) {
            idt.add(IdtGate.decode(vector, table, 16 * vector, namer));
        }
        return idt;
    }

    /**
     * A name for {@code address}: {@code symbol+0xoff} inside the kernel image, {@code [module]+0xoff} inside
     * a listed module, else the bare hex address (code nobody owns).
     */
    public String describe(long address) {
        Optional<Symbol> symbol = symbols().containing(address);
        if (symbol.isPresent()) {
            return symbols().describe(address);
        }
        for (LoadedModule module : modulesForNames()) {
            for (LoadedModule.Region region : module.memory()) {
                if (region.contains(address)) {
                    return "[" + module.name() + "]+0x" + Long.toHexString(address - module.base());
                }
            }
        }
        return "0x" + Long.toHexString(address);
    }

    private List<LoadedModule> modulesForNames() {
        if (modulesForNames == null) {
            try {
                modulesForNames = hasTypes() ? modules() : List.of();
            } catch (VmiException e) {
                modulesForNames = List.of();
            }
        }
        return modulesForNames;
    }

    private KernelContext context() throws VmiException {
        return new KernelContext(memory, types(), symbols());
    }

    /** For readers that need symbols only: works without BTF. */
    private KernelContext context(boolean needTypes) throws VmiException {
        return needTypes || hasTypes() ? context() : new KernelContext(memory, null, symbols());
    }
}
