package io.vmguard.vmm;

import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.vmi.GuestInspector;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.SyscallTracer;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import io.vmguard.vmi.dump.DumpOptions;
import io.vmguard.vmi.dump.DumpResult;
import io.vmguard.vmi.dump.ElfCoreWriter;
import io.vmguard.vmi.integrity.LinuxFactsSource;
import io.vmguard.vmi.linux.LinuxKernel;
import io.vmguard.vmi.linux.LinuxTask;
import io.vmguard.vmi.linux.LoadedModule;
import io.vmguard.vmi.linux.ModuleKobject;
import io.vmguard.vmi.linux.PidEntry;
import java.util.ArrayList;
import io.vmguard.vmi.integrity.Finding;
import io.vmguard.vmi.integrity.IntegrityMonitor;
import io.vmguard.vmi.integrity.KernelFacts;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A running VM's introspection: register and memory reads for clients (each logged), and the kernel
 * integrity monitor when the VM was started with it. Wires {@code vmi} to the {@link Vm}; the library itself
 * knows nothing of VMs.
 */
public final class Introspection implements AutoCloseable {
    /** The largest read or write one request may make. */
    public static final int MAX_ACCESS = 1 << 20;

    private final Vm vm;
    private final VmEvents events;
    private final IntrospectionSettings settings;
    private final GuestInspector inspector;
    private final LinuxFactsSource kernel = new LinuxFactsSource();
    private final IntegrityMonitor monitor;
    /** Present when the engine can trap system calls. */
    private final Optional<SyscallTracer> syscalls;

    private Introspection(Vm vm, VmEvents events, IntrospectionSettings settings) {
        this.vm = vm;
        this.events = events;
        this.settings = settings;
        this.inspector = new VmInspector(vm);
        this.monitor = settings.monitor()
                ? new IntegrityMonitor(inspector, vm.monitoring("integrity"), kernel, events,
                        () -> vm.pauseFromGuestEvent("integrity violation"), settings.monitorSettings())
                : null;
        this.syscalls = vm.monitoring("syscalls")
                .filter(m -> m.traps().contains(io.vmguard.engine.monitor.TrapKind.SYSTEM_CALL))
                .map(m -> new SyscallTracer(m, events));
    }

    /** Traces system calls as {@code filter} says (no numbers: stops); events go to the event stream. */
    public Map<String, Object> traceSyscalls(SyscallTracer.Filter filter) throws VmiException {
        SyscallTracer tracer = syscalls.orElseThrow(
                () -> new VmiException("this engine cannot trap system calls (the interpreter can)"));
        if (filter.numbers().isEmpty()) {
            tracer.stop();
        } else {
            LinuxKernel linux = inspector.inspect(kernel::kernel);
            tracer.start(filter, linux);
        }
        return tracer.status();
    }

    /** Attaches to a started (or restored) VM and starts the monitor if the settings ask for it. */
    static Introspection attach(Vm vm, VmEvents events, IntrospectionSettings settings) {
        Introspection introspection = new Introspection(vm, events, settings);
        if (introspection.monitor != null) {
            introspection.monitor.start();
        }
        return introspection;
    }

    public IntrospectionSettings settings() {
        return settings;
    }

    public List<VcpuState> registers() throws VmiException {
        return inspector.inspect(GuestView::vcpus);
    }

    public enum Space { PHYSICAL, VIRTUAL }

    /**
     * Reads guest memory: physical, or virtual through the page tables of {@code cr3} (the first vCPU's when
     * empty). Logged as a {@code vmi} event: who reads guest memory is itself security-relevant.
     */
    public byte[] read(Space space, long address, int size, OptionalLong cr3) throws VmiException {
        checkSize(size);
        byte[] data = inspector.inspect(view -> switch (space) {
            case PHYSICAL -> {
                byte[] bytes = new byte[size];
                if (!view.memory().read(address, bytes, 0, size)) {
                    throw new VmiException(String.format("guest physical range %#x+%d is not all RAM", address, size), address);
                }
                yield bytes;
            }
            case VIRTUAL -> addressSpace(view, cr3).readBytes(address, size);
        });
        events.emit(Source.VMI, "memory-read", Severity.INFO, access(space, address, size, cr3));
        return data;
    }

    /** Writes guest memory, only when the VM was started allowing it; logged as a warning. */
    public void write(Space space, long address, byte[] data, OptionalLong cr3) throws VmiException {
        if (!settings.allowWrites()) {
            throw new VmiException("guest memory writes through introspection are off (start the VM with them allowed)");
        }
        checkSize(data.length);
        inspector.inspect(view -> {
            // Page by page: a virtual range may map to scattered frames, each must be RAM.
            VirtualMemory virtual = space == Space.VIRTUAL ? addressSpace(view, cr3) : null;
            for (int done = 0; done < data.length; ) {
                long target = virtual == null ? address + done : virtual.physicalAddress(address + done);
                int piece = (int) Math.min(data.length - done, 4096 - (target & 0xfff));
                if (!vm.memory().contains(target, piece)) {
                    throw new VmiException(String.format("guest physical address %#x is not RAM", target), target);
                }
                vm.memory().write(target, data, done, piece);
                vm.guestMemoryWrittenByVmm(target, piece);
                done += piece;
            }
            return null;
        });
        events.emit(Source.VMI, "memory-write", Severity.WARNING, access(space, address, data.length, cr3));
    }

    private static void checkSize(int size) throws VmiException {
        if (size <= 0 || size > MAX_ACCESS) {
            throw new VmiException("an access must be 1 to " + MAX_ACCESS + " bytes, not " + size);
        }
    }

    private static VirtualMemory addressSpace(GuestView view, OptionalLong cr3) throws VmiException {
        VirtualMemory current = VirtualMemory.forVcpu(view.memory(), view.vcpus().getFirst());
        return cr3.isPresent() ? current.withRoot(cr3.getAsLong() & 0x000f_ffff_ffff_f000L) : current;
    }

    private static Map<String, Object> access(Space space, long address, int size, OptionalLong cr3) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("space", space.name().toLowerCase(java.util.Locale.ROOT));
        details.put("address", "0x" + Long.toHexString(address));
        details.put("size", size);
        cr3.ifPresent(value -> details.put("cr3", "0x" + Long.toHexString(value)));
        return details;
    }

    /** The monitor, when this VM runs one. */
    public Optional<IntegrityMonitor> monitor() {
        return Optional.ofNullable(monitor);
    }

    /** Checks now against the baseline (the monitor's, or fails when there is no monitor or no baseline yet). */
    public List<Finding> check() throws VmiException {
        return requireMonitor().check();
    }

    public KernelFacts takeBaseline() throws VmiException {
        return requireMonitor().takeBaseline();
    }

    private IntegrityMonitor requireMonitor() throws VmiException {
        if (monitor == null) {
            throw new VmiException("the integrity monitor is off for this VM (start it with the monitor on)");
        }
        return monitor;
    }

    /** Runs {@code inspection} over one consistent view, for clients of the Linux model (ps, modules, dump). */
    public <T> T inspect(GuestInspector.Inspection<T> inspection) throws VmiException {
        return inspector.inspect(inspection);
    }

    /**
     * Writes guest memory and every vCPU's registers as an ELF core file (QEMU's dump-guest-memory layout,
     * for crash and gdb), mode 0600, replacing {@code target} atomically. With a VMCOREINFO note when the
     * kernel is found (release, KASLR offset). Logged as a warning event: guest memory is leaving the VMM.
     * With --seal the file is sealed ({@link io.vmguard.seal.SealedDump}: a fresh key sealed by the owner's
     * TPM, made before the guest is held), and only {@code vmguard vmi unseal-dump} with that TPM opens it.
     */
    public DumpResult.Written dump(java.nio.file.Path target) throws VmiException {
        Optional<String> problem = ElfCoreWriter.targetProblem(target);
        if (problem.isPresent()) {
            throw new VmiException(problem.get());
        }
        Optional<io.vmguard.vmi.dump.DumpSink.Opener> sealed = Optional.empty();
        if (vm.sealing().isPresent()) {
            try {
                sealed = Optional.of(SealedDumpSink.opener(io.vmguard.seal.SealedDump.Key.fresh(vm.sealing().get())));
            } catch (io.vmguard.seal.SealException e) {
                throw new VmiException("cannot seal the dump: " + e.getMessage());
            }
        }
        Optional<io.vmguard.vmi.dump.DumpSink.Opener> opener = sealed;
        DumpResult result = inspector.inspect(view -> {
            DumpOptions options = DumpOptions.defaults();
            try {
                LinuxKernel linux = kernel.kernel(view);
                String release = linux.banner().replaceFirst("^Linux version (\\S+).*$", "$1").strip();
                options = options.withVmcoreInfo("OSRELEASE=" + release + "\nPAGESIZE=4096\nKERNELOFFSET="
                        + Long.toHexString(linux.slide()) + "\n");
            } catch (VmiException e) {
                // not a Linux we can read: the dump is still memory and registers
            }
            ElfCoreWriter writer = new ElfCoreWriter(options);
            return opener.isPresent() ? writer.write(view, target, opener.get()) : writer.write(view, target);
        });
        DumpResult.Written written;
        try {
            written = result.orThrow();
        } catch (io.vmguard.vmi.dump.DumpException e) {
            throw new VmiException(e.getMessage());
        }
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("path", written.file().toString());
        details.put("memory_bytes", written.memoryBytes());
        details.put("file_bytes", written.fileBytes());
        details.put("sealed", opener.isPresent());
        events.emit(Source.VMI, "memory-dump", Severity.WARNING, details);
        return written;
    }

    /** The Linux model (its names for addresses, the kernel it found). */
    public LinuxFactsSource kernel() {
        return kernel;
    }

    /** The guest's processes (thread-group leaders), each marked when it is missing from the task list. */
    public List<ProcessInfo> processes() throws VmiException {
        return inspector.inspect(view -> {
            LinuxKernel linux = kernel.kernel(view);
            List<ProcessInfo> processes = new ArrayList<>();
            java.util.Set<Integer> listed = new java.util.HashSet<>();
            for (LinuxTask task : linux.processes()) {
                listed.add(task.pid());
                if (task.pid() != 0) {
                    processes.add(ProcessInfo.of(task, false));
                }
            }
            // Cross-view: a thread-group leader in the PID table that the task list does not have is hidden.
            for (PidEntry entry : linux.pidTable()) {
                if (entry.hasTask() && !listed.contains(entry.nr())) {
                    LinuxTask task = linux.task(entry.task());
                    if (task.pid() == task.tgid()) {
                        processes.add(ProcessInfo.of(task, true));
                    }
                }
            }
            processes.sort(java.util.Comparator.comparingInt(ProcessInfo::pid));
            return processes;
        });
    }

    /** One process as {@code vmguard vmi ps} shows it. */
    public record ProcessInfo(int pid, int ppid, long uid, String name, boolean kernelThread, String task, boolean hidden) {
        static ProcessInfo of(LinuxTask task, boolean hidden) {
            return new ProcessInfo(task.pid(), task.parentTgid(), task.uid(), task.comm(), task.kernelThread(),
                    "0x" + Long.toHexString(task.address()), hidden);
        }
    }

    /** The loaded modules; one with a kobject but missing from the module list is listed as hidden. */
    public List<ModuleInfo> modules() throws VmiException {
        return inspector.inspect(view -> {
            LinuxKernel linux = kernel.kernel(view);
            List<ModuleInfo> modules = new ArrayList<>();
            java.util.Set<Long> listed = new java.util.HashSet<>();
            for (LoadedModule module : linux.modules()) {
                listed.add(module.address());
                modules.add(new ModuleInfo(module.name(), "0x" + Long.toHexString(module.base()), module.size(),
                        module.state(), false));
            }
            for (ModuleKobject kobject : linux.moduleKobjects()) {
                if (kobject.module() != 0 && !listed.contains(kobject.module())) {
                    modules.add(new ModuleInfo(kobject.name(), "0x" + Long.toHexString(kobject.module()), 0, "unknown", true));
                }
            }
            return modules;
        });
    }

    public record ModuleInfo(String name, String base, long size, String state, boolean hidden) {}

    /** What the kernel model found: release banner, KASLR slide, symbol count, whether BTF was read. */
    public Map<String, Object> kernelSummary() throws VmiException {
        return inspector.inspect(view -> {
            LinuxKernel linux = kernel.kernel(view);
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("banner", linux.banner());
            summary.put("kaslr_slide", "0x" + Long.toHexString(linux.slide()));
            summary.put("symbols", linux.symbols().size());
            summary.put("btf", linux.hasTypes());
            return summary;
        });
    }

    @Override
    public void close() {
        if (monitor != null) {
            monitor.close();
        }
        syscalls.ifPresent(SyscallTracer::stop);
    }
}
