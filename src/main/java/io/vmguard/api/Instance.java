package io.vmguard.api;

import io.vmguard.api.model.FullVmConfig;
import io.vmguard.api.model.InstanceInfo;
import io.vmguard.api.model.DriveOverride;
import io.vmguard.api.model.NetworkOverride;
import io.vmguard.api.model.SnapshotCreate;
import io.vmguard.api.model.SnapshotLoad;
import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.events.VmEvents;
import io.vmguard.net.NetSpec;
import io.vmguard.vmm.Antivirus;
import io.vmguard.vmm.AntivirusSettings;
import io.vmguard.vmm.Engines;
import io.vmguard.vmm.Introspection;
import io.vmguard.vmm.IntrospectionSettings;
import io.vmguard.vmm.GuestProtection;
import io.vmguard.vmm.RestoreOptions;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.Vm;
import io.vmguard.vmm.VmConfig;
import io.vmguard.vmm.VmException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one microVM an API serves, through its life: configured by pre-boot requests until
 * {@code InstanceStart} builds it (or {@code /snapshot/load} restores one), then driven through {@link Vm}.
 * Changes are serialized on this object; reads ({@link #info()}) take no lock, so a slow pause or snapshot
 * does not hold up {@code GET /}.
 */
public final class Instance implements AutoCloseable {
    private static final String AFTER_START = "The requested operation is not supported after starting the microVM.";
    private static final String BEFORE_START = "The requested operation is not supported before starting the microVM.";
    private static final Pattern CARD_NAME = Pattern.compile("eth(\\d{1,3})");
    private static final Pattern DISK_NAME = Pattern.compile("vd([a-z])");

    /** How this instance builds its VM: the id in events, the engine, where the console goes. */
    /**
     * @param vmi how the VM is introspected once it runs (the integrity monitor, writes allowed or not)
     * @param av  how its code is scanned (signatures and the action on a match), or off
     * @param protection its TPM, memory backend and snapshot sealing (issue 16)
     */
    public record Launch(String id, String engine, SerialTarget serial, VmEvents events, IntrospectionSettings vmi,
                         AntivirusSettings av, GuestProtection protection) {
        public Launch(String id, String engine, SerialTarget serial, VmEvents events, IntrospectionSettings vmi,
                      AntivirusSettings av) {
            this(id, engine, serial, events, vmi, av, GuestProtection.NONE);
        }

        public Launch(String id, String engine, SerialTarget serial, VmEvents events) {
            this(id, engine, serial, events, IntrospectionSettings.defaults(), AntivirusSettings.off());
        }

        public Launch(String id, String engine, SerialTarget serial, VmEvents events, IntrospectionSettings vmi) {
            this(id, engine, serial, events, vmi, AntivirusSettings.off());
        }
    }

    /** A change to the pre-boot configuration, which may refuse it. */
    @FunctionalInterface
    public interface Change {
        void apply(PreBootConfig config) throws ApiError;
    }

    private final Launch launch;

    /**
     * Whether this instance seals its snapshots (--seal): then guest memory leaves vmguard only sealed, and the
     * API refuses to hand it out in clear (memory reads and writes, plaintext dumps).
     */
    public boolean sealed() {
        return launch.protection().seal().isPresent();
    }
    private final CompletableFuture<Vm> booted = new CompletableFuture<>();
    private PreBootConfig config;
    private volatile Vm vm;

    private Instance(Launch launch, PreBootConfig config, Vm vm) {
        this.launch = launch;
        this.config = config;
        this.vm = vm;
        if (vm != null) {
            booted.complete(vm);
        }
    }

    /** An instance with no VM yet, configured through the API ({@code vmguard serve}). */
    public static Instance configurable(Launch launch) {
        return new Instance(launch, new PreBootConfig(), null);
    }

    /** An instance serving a VM built elsewhere ({@code vmguard run --api-sock}). */
    public static Instance serving(Launch launch, Vm vm) {
        return new Instance(launch, PreBootConfig.describing(vm.config()), vm);
    }

    public String id() {
        return launch.id();
    }

    /** Completes with the VM once one exists (at once for {@link #serving}). */
    public CompletableFuture<Vm> booted() {
        return booted;
    }

    public Optional<Vm> vm() {
        return Optional.ofNullable(vm);
    }

    public InstanceInfo info() {
        Vm current = vm;
        String state = current == null ? "Not started" : current.state().apiName();
        return new InstanceInfo(launch.id(), state, Version.NUMBER, Version.APP_NAME);
    }

    public synchronized FullVmConfig vmConfig() {
        return config.describe();
    }

    public synchronized io.vmguard.api.model.MachineConfig machineConfig() {
        return config.machineConfig();
    }

    /** Applies a pre-boot change; after boot every such request is refused, as Firecracker does. */
    public synchronized void configure(Change change) throws ApiError {
        if (vm != null) {
            throw ApiError.badRequest(AFTER_START);
        }
        change.apply(config);
    }

    /** {@code InstanceStart}: builds the VM from the configuration and starts its vCPU. */
    public synchronized void start() throws ApiError {
        if (vm != null) {
            throw ApiError.badRequest(AFTER_START);
        }
        Engine engine = engine();
        VmConfig vmConfig = config.toVmConfig(launch.engine(), launch.serial());
        Vm created;
        try {
            created = Vm.create(vmConfig, engine, launch.events(), launch.protection());
        } catch (VmException e) {
            throw ApiError.badRequest("Cannot start microvm: " + e.getMessage());
        }
        created.attachAntivirus(launch.av());
        created.start();
        created.attachIntrospection(launch.vmi());
        vm = created;
        booted.complete(created);
    }

    /**
     * {@code PUT /snapshot/load}: only on a fresh instance (nothing but the logger and metrics configured).
     * Cards are named by their guest names (eth0, ...) because a snapshot does not record interface ids.
     */
    public synchronized void load(SnapshotLoad load) throws ApiError {
        if (vm != null) {
            throw ApiError.badRequest("Loading a microVM snapshot not allowed after starting the microVM.");
        }
        if (config.touched()) {
            throw ApiError.badRequest("Loading a microVM snapshot not allowed after configuring boot-specific resources.");
        }
        if (load.memBackend() != null && !load.memBackend().backendType().equals("File")) {
            throw ApiError.badRequest("vmguard loads guest memory from a File backend only, not "
                    + load.memBackend().backendType());
        }
        Map<Integer, NetSpec> overrides = new HashMap<>();
        for (NetworkOverride override : load.networkOverrides()) {
            Matcher card = CARD_NAME.matcher(override.ifaceId());
            if (!card.matches()) {
                throw ApiError.badRequest("Invalid network override: vmguard snapshots name their cards eth0, eth1, ...; "
                        + "there is no '" + override.ifaceId() + "'");
            }
            NetSpec spec = PreBootConfig.netSpec(override.hostDevName(), override.vmguardSocket(), override.guestMac());
            if (overrides.put(Integer.parseInt(card.group(1)), spec) != null) {
                throw ApiError.badRequest("Invalid network override: '" + override.ifaceId() + "' is given twice");
            }
        }
        Map<Integer, Path> disks = new HashMap<>();
        for (DriveOverride override : load.vmguardDriveOverrides()) {
            Matcher disk = DISK_NAME.matcher(override.driveId());
            if (!disk.matches()) {
                throw ApiError.badRequest("Invalid drive override: vmguard snapshots name their disks vda, vdb, ...; "
                        + "there is no '" + override.driveId() + "'");
            }
            if (disks.put(disk.group(1).charAt(0) - 'a', Path.of(override.pathOnHost())) != null) {
                throw ApiError.badRequest("Invalid drive override: '" + override.driveId() + "' is given twice");
            }
        }
        Vm restored;
        try {
            restored = Vm.restore(Path.of(load.snapshotPath()), Path.of(load.memoryPath()), engine(),
                    new RestoreOptions(launch.serial(), Optional.empty(), overrides, disks), launch.events(), launch.protection());
        } catch (VmException e) {
            throw ApiError.badRequest("Loading a microVM snapshot failed: " + e.getMessage());
        }
        config = PreBootConfig.describing(restored.config());
        vm = restored;
        restored.attachIntrospection(launch.vmi());
        restored.attachAntivirus(launch.av());
        booted.complete(restored);
        if (load.resumeVm()) {
            resume();
        }
    }

    private Engine engine() throws ApiError {
        try {
            return Engines.create(launch.engine());
        } catch (EngineException e) {
            throw ApiError.badRequest("Cannot start microvm: " + e.getMessage());
        }
    }

    public synchronized void pause() throws ApiError {
        try {
            running().pause();
        } catch (VmException e) {
            throw ApiError.badRequest("Failed to pause the microVM: " + e.getMessage());
        }
    }

    public synchronized void resume() throws ApiError {
        try {
            running().resume();
        } catch (VmException e) {
            throw ApiError.badRequest("Failed to resume the microVM: " + e.getMessage());
        }
    }

    /** {@code PUT /snapshot/create}: the VM must be paused first, as in Firecracker. */
    public synchronized Vm.SnapshotSummary snapshot(SnapshotCreate request) throws ApiError {
        if (request.snapshotType().equals("Diff")) {
            throw ApiError.badRequest("vmguard takes full snapshots only: snapshot_type Diff is not supported");
        }
        try {
            return running().snapshot(Path.of(request.snapshotPath()), Path.of(request.memFilePath()));
        } catch (VmException e) {
            throw ApiError.badRequest("Failed to create the snapshot: " + e.getMessage());
        }
    }

    public synchronized void sendCtrlAltDel() throws ApiError {
        try {
            running().sendCtrlAltDel();
        } catch (VmException e) {
            throw ApiError.badRequest(e.getMessage());
        }
    }

    /** The running VM's antivirus. */
    public Antivirus antivirus() throws ApiError {
        return running().antivirus().orElseThrow(
                () -> ApiError.badRequest("The antivirus is off: start vmguard with --av-db DIR to scan guest code."));
    }

    /** The running VM's introspection. */
    public Introspection introspection() throws ApiError {
        return running().introspection().orElseThrow(() -> ApiError.badRequest(BEFORE_START));
    }

    /** The VM's counters, or just its state before there is one. */
    public Map<String, Object> vmMetrics() {
        Vm current = vm;
        if (current == null) {
            Map<String, Object> none = new LinkedHashMap<>();
            none.put("state", "Not started");
            return none;
        }
        return current.metrics();
    }

    private Vm running() throws ApiError {
        Vm current = vm;
        if (current == null) {
            throw ApiError.badRequest(BEFORE_START);
        }
        return current;
    }

    /** Ends the VM (a signal, the server shutting down); the thread awaiting its outcome then reports. */
    public void stop(String reason) {
        Vm current = vm;
        if (current != null) {
            current.stop(reason);
        }
    }

    @Override
    public void close() {
        Vm current = vm;
        if (current != null) {
            current.close();
        }
    }
}
