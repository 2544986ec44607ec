package io.vmguard.vmm;

import io.vmguard.arch.x86.BootState;
import io.vmguard.arch.x86.KernelLoadException;
import io.vmguard.arch.x86.LinuxBoot;
import io.vmguard.arch.x86.X86Layout;
import io.vmguard.arch.x86.acpi.AcpiPlatform;
import io.vmguard.arch.x86.acpi.AcpiTables;
import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.HostMemory;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.memory.MemoryImage;
import io.vmguard.net.FrameLatency;
import io.vmguard.pci.PciRoot;
import io.vmguard.seal.PendingDataKey;
import io.vmguard.seal.PostCopyHelper;
import io.vmguard.sched.HostThreadMetrics;
import io.vmguard.seal.SealException;
import io.vmguard.seal.SealedMemoryImage;
import io.vmguard.seal.SealingTpm;
import io.vmguard.snapshot.Phases;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.engine.monitor.MonitorMux;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.vmi.GuestPhysicalMemory;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.PhysicalMemory;
import io.vmguard.vmi.VcpuState;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One virtual machine: guest memory, an engine's VM and vCPUs (one thread each), the buses, the legacy devices and the PCI
 * root bus, wired together from a {@link VmConfig}. This is the only place that knows both engines and devices.
 *
 * <p>Life: built by {@link #create} (boots a kernel) or {@link #restore} (continues a snapshot), then
 * {@link #start()}ed; it may be {@link #pause()}d and {@link #resume()}d any number of times, and snapshotted
 * while paused; it ends when the guest powers off or resets, a vCPU fails, or {@link #stop} is called.
 * Lifecycle methods are synchronized: the API and a signal handler may call them from different threads.
 */
public final class Vm implements AutoCloseable {
    private static final long VCPU_JOIN_MILLIS = 2000;
    /** How long a pause waits for the vCPU to reach an instruction boundary (a device access in progress). */
    private static final long PAUSE_MILLIS = 5000;
    private static final Duration WATCHDOG_PERIOD = Duration.ofSeconds(1);
    /** No device access takes this long: disk I/O on the vCPU thread is the slowest (a flush of a large cache). */
    private static final Duration DEVICE_STUCK_AFTER = Duration.ofSeconds(60);

    /** Everything the VM is made of (memory, engine VM and vCPU, buses, devices): built, saved and restored together. */
    private final MachineParts parts;
    /** Completed once, by whichever comes first: the guest's power-off or reset, a vCPU failure, a stop. */
    private final CompletableFuture<RunOutcome> outcome;
    /** One per vCPU, vCPU 0 first. */
    private final List<VcpuRunner> runners;
    private final VmEvents events;
    private List<Thread> vcpuThreads;
    private Watchdog watchdog;
    /** Written under this object's lock, read without it: status requests must not wait behind a snapshot. */
    private volatile VmState state = VmState.NOT_STARTED;
    private Introspection introspection;
    private Antivirus antivirus;
    private MonitorMux monitorMux;
    /** A monitor asked for a pause from a vCPU thread; the pausing thread has not finished it yet. */
    private volatile boolean guestEventPausePending;
    /** Set by a restore: the first start comes out of a snapshot, not a reset vector. */
    private boolean restored;
    /** The guest's TPM (--tpm, or a restored snapshot that had one); null without. */
    private GuestTpm tpm;
    /** The owner's TPM that seals this VM's snapshots (--seal), when there is one. */
    private Optional<SealingTpm> seal = Optional.empty();
    /** Whether this VM came from a sealed snapshot (said in the snapshot-loaded event). */
    private boolean restoredSealed;
    /** Whether a sealed restore's memory is filled by a decrypting helper (lazy) rather than before it ran. */
    private boolean restoredLazily;

    private Vm(MachineParts parts, VmEvents events) {
        this.events = events;
        this.outcome = parts.outcome();
        this.parts = parts;
        this.runners = parts.vcpus().stream().map(vcpu -> new VcpuRunner(vcpu, parts.io(), parts.mmio(), outcome)).toList();
    }

    /** Builds the VM and loads the kernel; nothing runs until {@link #run()} or {@link #start()}. */
    public static Vm create(VmConfig config, Engine engine) throws VmException {
        return create(config, engine, VmEvents.none(), pci -> {});
    }

    /** As {@link #create(VmConfig, Engine)}, reporting security events to {@code events}. */
    public static Vm create(VmConfig config, Engine engine, VmEvents events) throws VmException {
        return create(config, engine, events, pci -> {});
    }

    /**
     * As {@link #create(VmConfig, Engine, VmEvents)}, protected as {@code protection} says: with a TPM 2.0 when
     * it holds TPM settings (swtpm started, the boot measured into it before the first instruction, the CRB
     * device and ACPI tables added), and guest RAM from its memory backend.
     */
    public static Vm create(VmConfig config, Engine engine, VmEvents events, GuestProtection protection) throws VmException {
        return create(config, engine, events, pci -> {}, protection);
    }

    /** As {@link #create(VmConfig, Engine)}, with PCI devices {@code pciDevices} adds to the root bus before the virtio ones (tests). */
    static Vm create(VmConfig config, Engine engine, Consumer<PciRoot> pciDevices) throws VmException {
        return create(config, engine, VmEvents.none(), pciDevices);
    }

    private static Vm create(VmConfig config, Engine engine, VmEvents events, Consumer<PciRoot> pciDevices)
            throws VmException {
        return create(config, engine, events, pciDevices, GuestProtection.NONE);
    }

    private static Vm create(VmConfig config, Engine engine, VmEvents events, Consumer<PciRoot> pciDevices,
                             GuestProtection protection) throws VmException {
        requireHostRoom(config.memoryBytes());
        GuestMemory memory = allocate(config, engine, protection.memoryBackend());
        Optional<TpmSettings> tpmSettings = protection.tpm();
        MachineParts parts = MachineParts.assemble(config, engine, memory, events, pciDevices);
        GuestTpm tpm = null;
        try {
            AcpiPlatform platform = new AcpiPlatform(config.vcpus(), true, parts.virtio().slots(), parts.virtio().viot());
            if (tpmSettings.isPresent()) {
                tpm = GuestTpm.boot(tpmSettings.get(), config, memory, parts.mmio());
                platform = platform.withTpm(GuestTpm.ACPI);
            }
            // The guest learns its devices from ACPI: the virtio-mmio ones are declared there, PCI is enumerated.
            long rsdp = AcpiTables.install(memory, platform);
            BootState boot = LinuxBoot.prepare(memory, config.kernel(), config.initrd(), config.commandLine(), rsdp,
                    engine.runsGuestCodeNatively() ? LinuxBoot.Decompression.GUEST : LinuxBoot.Decompression.HOST);
            parts.bsp().setRegisters(boot.registers());
            parts.bsp().setSpecialRegisters(boot.specialRegisters());
            for (Vcpu vcpu : parts.vcpus()) {
                BootMsrs.applyTo(vcpu); // what firmware sets on every CPU before the OS runs
            }
        } catch (KernelLoadException | EngineException | IllegalArgumentException | VmException e) {
            if (tpm != null) {
                tpm.close();
            }
            parts.close();
            throw e instanceof VmException vm ? vm : new VmException(e.getMessage(), e);
        }
        Vm vm = new Vm(parts, events);
        vm.tpm = tpm;
        vm.seal = protection.seal();
        if (tpm != null) {
            events.emit(Source.VMM, "boot-measured", Severity.INFO, tpm.measurements());
        }
        return vm;
    }

    private static void requireEngineFor(MemoryBackend backend, Engine engine) throws VmException {
        if (backend == MemoryBackend.SECRET && !engine.name().equals("interp")) {
            throw new VmException("--memory-backend secret works with the interpreter only: KVM maps guest RAM through "
                    + "get_user_pages, which refuses secret memory");
        }
    }

    private static GuestMemory allocate(VmConfig config, Engine engine, MemoryBackend backend) throws VmException {
        requireEngineFor(backend, engine);
        try {
            return GuestMemory.allocate(X86Layout.ramRanges(config.memoryBytes()), backend);
        } catch (NativeException e) {
            if (backend == MemoryBackend.SECRET && e.errno() == Libc.ENOSYS) {
                throw new VmException("--memory-backend secret: this host kernel has no memfd_secret (it needs CONFIG_SECRETMEM=y, "
                        + "and before Linux 6.5 the boot option secretmem.enable=1)", e);
            }
            if (backend == MemoryBackend.SECRET && e.errno() == Libc.EAGAIN) {
                throw new VmException("--memory-backend secret: secret memory counts as locked memory and the guest's RAM is "
                        + "more than RLIMIT_MEMLOCK allows (raise it: ulimit -l)", e);
            }
            throw new VmException("cannot allocate guest memory: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new VmException(e.getMessage(), e);
        }
    }

    private static void requireHostRoom(long bytes) throws VmException {
        HostMemory host = HostMemory.probe();
        if (!host.fits(bytes)) {
            throw new VmException("guest memory of " + HostMemory.describe(bytes) + " is more than this host can "
                    + "back (" + host.basis() + ": " + HostMemory.describe(host.available()) + ")");
        }
    }

    /**
     * Rebuilds a VM from a snapshot: maps its memory file copy-on-write, builds the devices the snapshot
     * lists (reopening disks and network backends, with {@code options}' replacements), and restores every
     * part's state. Nothing is half-restored: any inconsistency fails the whole restore with one line. The
     * VM comes back {@link VmState#PAUSED}; {@link #resume()} (or {@link #start()}) continues the guest.
     */
    public static Vm restore(Path statePath, Path memoryPath, Engine engine, RestoreOptions options, VmEvents events)
            throws VmException {
        return restore(statePath, memoryPath, engine, options, events, GuestProtection.NONE);
    }

    /**
     * As {@link #restore(Path, Path, Engine, RestoreOptions, VmEvents)}; a sealed snapshot is opened with
     * {@code protection}'s sealing TPM (and its memory decrypted into RAM from its memory backend), and the
     * restored VM's own snapshots are sealed with it too. Another TPM, another authorisation value or a
     * modified file fails in one line and restores nothing; the files are only read.
     */
    public static Vm restore(Path statePath, Path memoryPath, Engine engine, RestoreOptions options, VmEvents events,
                             GuestProtection protection) throws VmException {
        Phases phases = new Phases();
        long started = System.nanoTime();
        Vm vm;
        try (Phases.Binding _ = phases.record()) {
            vm = restoreRecorded(statePath, memoryPath, engine, options, events, protection);
        }
        phases.add("restore.total_to_running", System.nanoTime() - started);
        // How the memory came back: mapped (plain), or for a sealed file the mode its restore chose or was forced to.
        String memoryRestore = !vm.restoredSealed ? "mapped" : vm.restoredLazily ? "lazy" : "up-front";
        events.emit(Source.VMM, "snapshot-loaded", Severity.INFO, Map.of("snapshot_path", statePath.toString(),
                "mem_file_path", memoryPath.toString(), "sealed", vm.restoredSealed, "memory_restore", memoryRestore,
                "phases", phases.seconds()));
        return vm;
    }

    private static Vm restoreRecorded(Path statePath, Path memoryPath, Engine engine, RestoreOptions options, VmEvents events,
                                      GuestProtection protection) throws VmException {
        // The owner's swtpm and a lazy restore's decrypting helper start now: swtpm comes up while the helper
        // is spawned, and the helper's JVM while the owner's TPM unseals the key.
        boolean sealed = protection.seal().isPresent() && SealedMemoryImage.isSealed(memoryPath);
        if (sealed) {
            protection.seal().get().prestart();
        }
        Optional<PostCopyHelper> helper = sealed ? SealedMemoryImage.prestart(memoryPath, protection.memoryBackend()) : Optional.empty();
        SnapshotFile.Loaded loaded;
        VmConfig config;
        GuestMemory memory;
        try {
            try {
                long t0 = System.nanoTime();
                loaded = SnapshotFile.read(statePath, protection.seal());
                Phases.since("restore.state_file", t0);
            } catch (SnapshotException e) {
                throw new VmException(e.getMessage(), e);
            }
            if (!loaded.engine().equals(engine.name())) {
                throw new VmException("snapshot " + statePath + " was taken on engine '" + loaded.engine()
                        + "'; restoring it on '" + engine.name() + "' is not supported");
            }
            config = options.applyTo(loaded.config());
            requireEngineFor(protection.memoryBackend(), engine);
            long memoryStarted = System.nanoTime();
            try {
                if (loaded.sealKey().isPresent()) {
                    memory = SealedMemoryImage.read(memoryPath, loaded.layout(), loaded.id(), loaded.sealKey().get(),
                            protection.memoryBackend(), helper);
                } else {
                    memory = MemoryImage.load(memoryPath, loaded.layout(), loaded.id(), protection.memoryBackend());
                }
            } catch (SnapshotException | SealException e) {
                throw new VmException(e.getMessage(), e);
            }
            Phases.since("restore.memory", memoryStarted);
        } finally {
            helper.ifPresent(PostCopyHelper::close); // unless a lazy restore took it over
            protection.seal().ifPresent(SealingTpm::dropPrestarted); // unless the unseal took it
        }
        long devicesStarted = System.nanoTime();
        MachineParts parts = MachineParts.assemble(config, engine, memory, events, pci -> {});
        GuestTpm tpm = null;
        try {
            parts.restoreState(loaded.root(), options.macs());
            if (loaded.root().has("tpm")) {
                tpm = GuestTpm.restore(protection.tpm().orElse(null), loaded.root().child("tpm"), parts.mmio());
            }
        } catch (SnapshotException | EngineException | VmException e) {
            closeQuietly(tpm);
            parts.close();
            throw new VmException("snapshot " + statePath + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            // A part that trusted a field it should have checked: still one line, still nothing half-restored.
            closeQuietly(tpm);
            parts.close();
            throw new VmException("snapshot " + statePath + " cannot be restored: " + e, e);
        }
        String fillFailed = memory.filling().map(io.vmguard.memory.LazyFill::failure).orElse(null);
        if (fillFailed != null) {
            closeQuietly(tpm);
            parts.close();
            throw new VmException("snapshot " + statePath + ": " + fillFailed);
        }
        Phases.since("restore.devices_and_guest_tpm", devicesStarted);
        Vm vm = new Vm(parts, events);
        vm.tpm = tpm;
        vm.seal = protection.seal();
        vm.restored = true;
        vm.restoredSealed = loaded.sealKey().isPresent();
        vm.restoredLazily = helper.isPresent() && helper.get().handedOver();
        // A lazily decrypted chunk that fails its authentication after the guest ran: stop, never go on.
        memory.filling().ifPresent(fill -> fill.onFailure(reason -> {
            events.emit(Source.VMM, "sealed-memory-failed", Severity.ALARM, Map.of("reason", reason));
            vm.stop(reason);
        }));
        vm.state = VmState.PAUSED;
        return vm;
    }

    private static void closeQuietly(GuestTpm tpm) {
        if (tpm != null) {
            tpm.close();
        }
    }

    /** Boots (or continues) the guest and blocks until it powers off, resets or fails. */
    public RunOutcome run() throws InterruptedException {
        start();
        return awaitOutcome();
    }

    /** Starts the vCPUs; returns at once. A restored VM continues where its snapshot stopped. */
    public synchronized void start() {
        if (vcpuThreads != null) {
            throw new IllegalStateException("the VM was already started");
        }
        parts.devices().startInput();
        vcpuThreads = runners.stream()
                .map(runner -> Thread.ofPlatform().name("vcpu" + runner.index()).daemon().start(runner))
                .toList();
        watchdog = new Watchdog(events, runners, this::stop, WATCHDOG_PERIOD, DEVICE_STUCK_AFTER,
                () -> Runtime.getRuntime().halt(1));
        watchdog.start();
        state = VmState.RUNNING;
        if (restored) {
            parts.devices().resume();
            parts.virtio().resume();
            parts.nics().resume();
        }
        Map<String, Object> details = new LinkedHashMap<>(); // in this order when printed for people
        details.put("engine", parts.engineName());
        details.put("vcpus", runners.size());
        events.emit(Source.VMM, restored ? "vm-resumed" : "vm-started", Severity.INFO, details);
        outcome.whenComplete((result, error) -> stopped(result));
    }

    /** Waits for the run's end, then stops the vCPU threads and flushes the parts.devices(). */
    public RunOutcome awaitOutcome() throws InterruptedException {
        RunOutcome result;
        try {
            result = outcome.get();
        } catch (java.util.concurrent.ExecutionException e) {
            result = new RunOutcome.Failed(String.valueOf(e.getCause()));
        }
        runners.forEach(VcpuRunner::stop);
        List<Thread> threads;
        synchronized (this) {
            threads = vcpuThreads;
        }
        joinAll(threads);
        parts.devices().flush();
        return result;
    }

    /** Waits for each thread a while (together at most about {@link #VCPU_JOIN_MILLIS}). */
    private static void joinAll(List<Thread> threads) throws InterruptedException {
        if (threads == null) {
            return;
        }
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(VCPU_JOIN_MILLIS);
        for (Thread thread : threads) {
            long left = deadline - System.nanoTime();
            if (left > 0) {
                thread.join(java.time.Duration.ofNanos(left));
            }
        }
    }

    /**
     * Parks every vCPU at an instruction boundary; on failure (one did not park in time, or the run ended) the
     * others run again and the reason is returned. Null when all are parked.
     */
    private String holdAll() throws VmException {
        for (VcpuRunner runner : runners) {
            boolean parked;
            try {
                parked = runner.pause(PAUSE_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                runners.forEach(VcpuRunner::resume);
                throw new VmException("interrupted while pausing");
            }
            if (!parked) {
                runners.forEach(VcpuRunner::resume);
                return outcome.isDone() ? "the VM stopped while pausing"
                        : "vCPU " + runner.index() + " did not reach an instruction boundary within " + PAUSE_MILLIS
                        + " ms (" + runner.currentExit() + ")";
            }
        }
        return null;
    }

    /** The run's result, once it has ended. */
    public Optional<RunOutcome> outcome() {
        return Optional.ofNullable(outcome.getNow(null));
    }

    private void stopped(RunOutcome result) {
        synchronized (this) {
            state = VmState.STOPPED;
        }
        switch (result) {
            case RunOutcome.PoweredOff off -> events.emit(Source.VMM, "vm-powered-off", Severity.INFO, Map.of("status", off.status()));
            case RunOutcome.Reset reset -> events.emit(Source.VMM, "vm-reset", Severity.INFO, Map.of("reason", reset.reason()));
            case RunOutcome.Failed failed -> events.emit(Source.VMM, "vm-stopped", Severity.WARNING, Map.of("reason", failed.reason()));
            case null -> { }
        }
    }

    /**
     * Stops every vCPU at an instruction boundary and quiets the device backends: afterwards nothing touches
     * guest memory and the process uses no CPU for this VM. Disk requests in progress complete first.
     */
    public synchronized void pause() throws VmException {
        switch (state) {
            case PAUSED -> { return; }
            case NOT_STARTED -> throw new VmException("the VM has not started");
            case STOPPED -> throw new VmException("the VM has stopped");
            case RUNNING -> { }
        }
        String failed = holdAll();
        if (failed != null) {
            throw new VmException(failed);
        }
        try {
            parts.virtio().pause();
            parts.nics().pause();
            parts.devices().pause();
        } catch (RuntimeException e) {
            // Half paused is no state to leave a VM in: let everything run again and say why.
            parts.virtio().resume();
            parts.nics().resume();
            parts.devices().resume();
            runners.forEach(VcpuRunner::resume);
            throw new VmException("cannot pause the devices: " + e.getMessage(), e);
        }
        state = VmState.PAUSED;
        events.emit(Source.VMM, "vm-paused", Severity.INFO, Map.of());
    }

    /** Lets a paused VM run again; a restored VM that never ran starts here. */
    public synchronized void resume() throws VmException {
        switch (state) {
            case RUNNING -> { return; }
            case STOPPED -> throw new VmException("the VM has stopped");
            case NOT_STARTED -> throw new VmException("the VM has not started");
            case PAUSED -> { }
        }
        if (vcpuThreads == null) {
            start(); // a restored VM: its devices resume in start()
            return;
        }
        parts.devices().resume();
        parts.virtio().resume();
        parts.nics().resume();
        runners.forEach(VcpuRunner::resume);
        state = VmState.RUNNING;
        events.emit(Source.VMM, "vm-resumed", Severity.INFO, Map.of());
    }

    /**
     * Writes a full snapshot of this paused VM: the state file at {@code statePath} and guest memory at
     * {@code memoryPath}, each replaced atomically (see {@link SnapshotFile}).
     */
    public synchronized SnapshotSummary snapshot(Path statePath, Path memoryPath) throws VmException {
        return snapshot(statePath, memoryPath, seal);
    }

    /** As {@link #snapshot(Path, Path)}, sealed with {@code sealing} when it names a TPM (tests take both kinds). */
    synchronized SnapshotSummary snapshot(Path statePath, Path memoryPath, Optional<SealingTpm> sealing) throws VmException {
        if (state != VmState.PAUSED) {
            throw new VmException("a snapshot needs a paused VM (it is " + state.apiName() + ")");
        }
        long started = System.nanoTime();
        sealing.ifPresent(SealingTpm::prestart); // swtpm comes up while the devices save their state
        UUID id = UUID.randomUUID();
        StateWriter root = SnapshotFile.begin(id, parts.engineName(), parts.config(), parts.memory());
        long written;
        Phases phases = new Phases();
        Optional<PendingDataKey> key = Optional.empty();
        try (Phases.Binding _ = phases.record()) {
            key = sealing.map(PendingDataKey::start); // the TPM seals the fresh key while the devices save their state
            parts.saveState(root);
            if (tpm != null) {
                tpm.saveState(root.child("tpm"));
            }
            written = SnapshotFile.write(statePath, memoryPath, root, parts.memory(), id, key);
        } catch (SealException e) {
            throw new VmException("cannot snapshot: " + e.getMessage(), e);
        } catch (EngineException e) {
            throw new VmException("cannot snapshot: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new VmException("cannot write snapshot: " + e.getMessage(), e);
        } finally {
            key.ifPresent(PendingDataKey::close); // after its seal, whatever became of the snapshot
            sealing.ifPresent(SealingTpm::dropPrestarted); // unless the seal took it
        }
        SnapshotSummary summary = new SnapshotSummary(statePath, memoryPath, parts.memory().totalSize(), written,
                Duration.ofNanos(System.nanoTime() - started));
        events.emit(Source.VMM, "snapshot-created", Severity.INFO, Map.of("snapshot_path", statePath.toString(),
                "mem_file_path", memoryPath.toString(), "memory_bytes_written", written, "sealed", sealing.isPresent(),
                "millis", summary.elapsed().toMillis(), "phases", phases.seconds()));
        return summary;
    }

    /** What a snapshot wrote and how long it took. */
    public record SnapshotSummary(Path statePath, Path memoryPath, long memoryBytes, long memoryBytesWritten,
                                  Duration elapsed) {}

    /**
     * Runs {@code inspection} over one consistent moment of the guest: running vCPUs are held at an
     * instruction boundary (devices keep running; only vCPUs change kernel state) while their registers are
     * read and {@code inspection} runs, then let go. A paused VM is inspected as it stands.
     */
    public synchronized <T> T inspect(Function<GuestView, T> inspection) throws VmException {
        boolean hold = switch (state) {
            case RUNNING -> true;
            case PAUSED -> false;
            case NOT_STARTED -> throw new VmException("the VM has not started");
            case STOPPED -> throw new VmException("the VM has stopped");
        };
        if (hold) {
            String failed = holdAll();
            if (failed != null) {
                throw new VmException(failed);
            }
        }
        try {
            List<VcpuState> vcpus = new java.util.ArrayList<>();
            for (Vcpu vcpu : parts.vcpus()) {
                vcpus.add(captureVcpu(vcpu));
            }
            PhysicalMemory memory = new GuestPhysicalMemory(parts.memory());
            return inspection.apply(new GuestView() {
                @Override
                public PhysicalMemory memory() {
                    return memory;
                }

                @Override
                public List<VcpuState> vcpus() {
                    return vcpus;
                }
            });
        } catch (EngineException e) {
            throw new VmException("cannot read the vCPU's state: " + e.getMessage(), e);
        } finally {
            // A monitor may have asked for a pause while we held the vCPU: it stays parked for that pause.
            if (hold && !guestEventPausePending) {
                runners.forEach(VcpuRunner::resume);
            }
        }
    }

    private static VcpuState captureVcpu(Vcpu vcpu) throws EngineException {
        Map<Integer, Long> msrs = new java.util.HashMap<>();
        for (int index : Msr.WATCHED) {
            try {
                msrs.put(index, vcpu.readMsr(index));
            } catch (EngineException e) {
                // An MSR this engine cannot read stays absent; VcpuState says so.
            }
        }
        return new VcpuState(vcpu.index(), vcpu.registers(), vcpu.specialRegisters(), msrs);
    }

    /**
     * From a monitor's listener on a vCPU thread: every vCPU stops before its next instruction, and the VM
     * is then paused as {@link #pause()} does (on another thread, since a pause waits for the vCPUs).
     */
    public void pauseFromGuestEvent(String why) {
        guestEventPausePending = true;
        runners.forEach(VcpuRunner::requestPause);
        Thread.ofPlatform().name("vmi-pause").daemon().start(() -> {
            try {
                pause();
                guestEventPausePending = false;
                events.emit(Source.VMM, "vm-paused-for-inspection", Severity.WARNING, Map.of("reason", why));
            } catch (VmException e) {
                guestEventPausePending = false;
                runners.forEach(VcpuRunner::resume);
            }
        });
    }

    /**
     * Starts introspecting this started VM with {@code settings} (the integrity monitor, if they ask for it);
     * once per VM. Closed with the VM.
     */
    public synchronized Introspection attachIntrospection(IntrospectionSettings settings) {
        if (introspection != null) {
            throw new IllegalStateException("introspection is attached already");
        }
        introspection = Introspection.attach(this, events, settings);
        return introspection;
    }

    /**
     * Starts scanning this VM's code as {@code settings} say (nothing when they hold no database); once per VM,
     * best before {@link #start()}, so that no guest code runs unscanned. Closed with the VM.
     */
    public synchronized Optional<Antivirus> attachAntivirus(AntivirusSettings settings) {
        if (antivirus != null) {
            throw new IllegalStateException("the antivirus is attached already");
        }
        antivirus = Antivirus.attach(this, events, settings);
        return Optional.ofNullable(antivirus);
    }

    /** This VM's antivirus, once attached with a database. */
    public synchronized Optional<Antivirus> antivirus() {
        return Optional.ofNullable(antivirus);
    }

    /** This VM's introspection, once attached. */
    public synchronized Optional<Introspection> introspection() {
        return Optional.ofNullable(introspection);
    }

    /**
     * A monitoring handle of its own for observer {@code client} (the engine's traps are shared: each
     * observer arms its own plan and hears its own events), or empty when the engine can only be polled.
     */
    public synchronized Optional<Monitoring> monitoring(String client) {
        if (monitorMux == null) {
            Optional<Monitoring> engine = parts.machine().monitoring();
            if (engine.isEmpty()) {
                return Optional.empty();
            }
            monitorMux = new MonitorMux(engine.get());
        }
        return Optional.of(monitorMux.client(client));
    }

    /** Presses Ctrl+Alt+Del on the i8042 keyboard, as Firecracker's SendCtrlAltDel does. */
    public synchronized void sendCtrlAltDel() throws VmException {
        if (state != VmState.RUNNING) {
            throw new VmException("Ctrl+Alt+Del needs a running VM (it is " + state.apiName() + ")");
        }
        if (!parts.devices().sendCtrlAltDel()) {
            throw new VmException("the keyboard controller's buffer is full (the guest is not reading its keyboard)");
        }
    }

    public VmState state() {
        return state;
    }

    public VmConfig config() {
        return parts.config();
    }

    public String engineName() {
        return parts.engineName();
    }

    /** Counters for the API's metrics: vCPU exits by kind, instructions, and each device's counters. */
    public Map<String, Object> metrics() {
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("state", state().apiName());
        instructionsExecuted().ifPresent(count -> metrics.put("instructions", count));
        metrics.put("vcpus", runners.size());
        Map<String, Long> exits = new LinkedHashMap<>();
        for (VcpuRunner runner : runners) {
            runner.exitCounts().forEach((kind, count) -> exits.merge(kind, count, Long::sum));
        }
        metrics.put("exits", exits);
        metrics.put("devices", parts.virtio().counters());
        if (!parts.nics().isEmpty()) {
            metrics.put("nics", parts.nics().counters());
        }
        SequencedMap<String, FrameLatency.Snapshot> latency = netLatency();
        if (!latency.isEmpty()) {
            metrics.put("net_latency", latency);
        }
        metrics.put("host_threads", HostThreadMetrics.now());
        return metrics;
    }

    /** Each virtio device's counters by its short name ({@code block0}, {@code net0}, ...), in order. */
    public java.util.SequencedMap<String, io.vmguard.virtio.DeviceCounters> deviceCounters() {
        return parts.virtio().counters();
    }

    /** Each virtio-net card's latency figures (arrival to guest, kick to wire) by name ({@code net0}, ...). */
    public SequencedMap<String, FrameLatency.Snapshot> netLatency() {
        return parts.virtio().netLatency();
    }

    /** Each virtio-net card's backend counters (frames, drops, waits for room at the peer) by name ({@code net0}, ...). */
    public SequencedMap<String, io.vmguard.net.NetCounters> netBackends() {
        return parts.virtio().netBackends();
    }

    /** Each emulated (e1000) network card's counters by name ({@code e1000-0}, ...). */
    public java.util.SequencedMap<String, io.vmguard.devices.e1000.E1000Counters> nicCounters() {
        return parts.nics().counters();
    }

    /** Ends the run from outside (a signal, an API call). */
    public void stop(String reason) {
        outcome.complete(new RunOutcome.Failed(reason));
    }

    /** Starts a sampling profile of the vCPUs' RIPs every {@code period}; stop it for the counts. */
    public GuestProfiler startProfiler(java.time.Duration period) {
        return GuestProfiler.start(runners, period);
    }

    /** Guest instructions executed so far, where the engine counts them. */
    public OptionalLong instructionsExecuted() {
        long total = 0;
        for (Vcpu vcpu : parts.vcpus()) {
            OptionalLong count = vcpu.instructionsExecuted();
            if (count.isEmpty()) {
                return OptionalLong.empty();
            }
            total += count.getAsLong();
        }
        return OptionalLong.of(total);
    }

    public GuestMemory memory() {
        return parts.memory();
    }

    /** The owner's TPM that seals what leaves this VM (snapshots, dumps), when it runs with --seal. */
    public Optional<SealingTpm> sealing() {
        return seal;
    }

    /**
     * Tells the engine that the VMM changed guest RAM behind the vCPUs' back (an introspection write), as a
     * device's DMA does: code there must be decoded, and scanned, again. Anyone writing through
     * {@link #memory()} while the guest may run calls this after each write.
     */
    public void guestMemoryWrittenByVmm(long address, long length) {
        parts.machine().guestMemoryWrittenByDevice(address, length);
    }

    @Override
    public void close() {
        Introspection attached;
        Antivirus scanning;
        synchronized (this) {
            attached = introspection;
            scanning = antivirus;
        }
        if (attached != null) {
            attached.close(); // before the vCPU goes: the monitor must not wait on a VM that is closing
        }
        if (scanning != null) {
            scanning.close();
        }
        outcome.complete(new RunOutcome.Failed("closed"));
        runners.forEach(VcpuRunner::stop);
        try {
            joinAll(vcpuThreads);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        parts.devices().close();
        parts.virtio().close();
        if (watchdog != null) {
            watchdog.close(); // the shutdown completed: no last resort needed
        }
        closeQuietly(tpm); // swtpm ends with the VM (a vCPU still running would see a failed TPM, nothing worse)
        if (vcpuThreads != null && vcpuThreads.stream().anyMatch(Thread::isAlive)) {
            // A vCPU still runs on this memory: unmapping it now could crash the host process.
            return;
        }
        parts.vcpus().forEach(Vcpu::close);
        parts.machine().close();
        parts.memory().close();
    }

    /** swtpm's process id, when this VM has a TPM (tests check that it ends with the VM). */
    OptionalLong tpmProcess() {
        return tpm == null ? OptionalLong.empty() : OptionalLong.of(tpm.pid());
    }
}
