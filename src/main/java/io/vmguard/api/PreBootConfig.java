package io.vmguard.api;

import io.vmguard.api.model.BootSource;
import io.vmguard.api.model.Drive;
import io.vmguard.api.model.FullVmConfig;
import io.vmguard.api.model.MachineConfig;
import io.vmguard.api.model.NetworkInterface;
import io.vmguard.api.model.SocketBackend;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetModel;
import io.vmguard.net.NetSpec;
import io.vmguard.virtio.block.DiskConfig;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.VmConfig;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What the pre-boot requests have set, checked as each arrives (files exist, ids agree, one root drive,
 * no MAC or TAP device twice), and the {@link VmConfig} it makes at {@code InstanceStart}. Also what
 * {@code GET /vm/config} shows, before and after boot. Not thread-safe: {@link Instance} guards it.
 */
public final class PreBootConfig {
    /** Firecracker's default is 128 MiB; vmguard keeps its own ({@code vmguard run}'s), which its guest image needs. */
    public static final long DEFAULT_MEM_MIB = 256;
    /** The line {@code vmguard run} boots with; {@code boot_args} replaces it. */
    public static final String DEFAULT_BOOT_ARGS =
            "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";
    /** 16 TiB: far beyond any host, small enough that MiB to bytes cannot overflow. */
    private static final long MAX_MEM_MIB = 1L << 24;

    private BootSource bootSource;
    private MachineConfig machine = MachineConfig.defaults(DEFAULT_MEM_MIB);
    private final Map<String, Drive> drives = new LinkedHashMap<>();
    private final Map<String, NetworkInterface> nets = new LinkedHashMap<>();
    /** Whether any boot resource was set: Firecracker then refuses to load a snapshot. */
    private boolean touched;

    /** A description of a VM built elsewhere ({@code vmguard run}, a restore), with the guest's device names as ids. */
    public static PreBootConfig describing(VmConfig config) {
        PreBootConfig description = new PreBootConfig();
        description.bootSource = new BootSource(config.kernel().toString(),
                config.initrd() == null ? null : config.initrd().toString(), config.commandLine());
        description.machine = new MachineConfig(1, config.memoryBytes() >> 20, false, false, null, "None");
        for (int i = 0; i < config.disks().size(); i++) {
            DiskConfig disk = config.disks().get(i);
            String id = i < 26 ? "vd" + (char) ('a' + i) : "drive" + i;
            description.drives.put(id, new Drive(id, disk.path().toString(), false, disk.readOnly(), null, null, null));
        }
        for (int i = 0; i < config.nets().size(); i++) {
            String id = "eth" + i;
            description.nets.put(id, describe(id, config.nets().get(i)));
        }
        return description;
    }

    private static NetworkInterface describe(String id, NetSpec spec) {
        String mac = spec.mac().map(MacAddress::toString).orElse(null);
        String model = spec.model() == NetModel.VIRTIO ? null : spec.model().label();
        return switch (spec) {
            case NetSpec.Tap tap -> new NetworkInterface(id, tap.name(), mac, null, model);
            case NetSpec.Socket socket -> new NetworkInterface(id, null, mac,
                    new SocketBackend(socket.local().toString(), socket.peer().toString()), model);
        };
    }

    public boolean touched() {
        return touched;
    }

    public void putBootSource(BootSource source) throws ApiError {
        requireFile(source.kernelImagePath(), "kernel");
        if (source.initrdPath() != null) {
            requireFile(source.initrdPath(), "initrd");
        }
        bootSource = source;
        touched = true;
    }

    public MachineConfig machineConfig() {
        return machine;
    }

    /** PUT: fields left out take their defaults. */
    public void putMachineConfig(MachineConfig config) throws ApiError {
        try {
            config.requireComplete();
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest(Json.PREFIX + e.getMessage());
        }
        machine = checked(config.withDefaults());
        touched = true;
    }

    /** PATCH: only the fields given change. */
    public void patchMachineConfig(MachineConfig patch) throws ApiError {
        machine = checked(machine.patchedWith(patch));
        touched = true;
    }

    private static MachineConfig checked(MachineConfig config) throws ApiError {
        if (config.vcpuCount() < 1 || config.vcpuCount() > VmConfig.MAX_VCPUS) {
            throw ApiError.badRequest("vcpu_count must be between 1 and " + VmConfig.MAX_VCPUS + ", not " + config.vcpuCount());
        }
        if (config.memSizeMib() < 1 || config.memSizeMib() > MAX_MEM_MIB) {
            throw ApiError.badRequest("mem_size_mib must be between 1 and " + MAX_MEM_MIB + ", not " + config.memSizeMib());
        }
        return config;
    }

    /** Adds a drive, or replaces the one with this id where it stands in the order. */
    public void putDrive(String pathId, Drive drive) throws ApiError {
        requireSameId(pathId, drive.driveId());
        requireFile(drive.pathOnHost(), "drive");
        if (drive.isRootDevice()) {
            for (Drive other : drives.values()) {
                if (other.isRootDevice() && !other.driveId().equals(drive.driveId())) {
                    throw ApiError.badRequest("A root block device already exists! (drive '" + other.driveId() + "')");
                }
            }
        }
        drives.put(drive.driveId(), drive);
        touched = true;
    }

    public void putNetwork(String pathId, NetworkInterface net) throws ApiError {
        requireSameId(pathId, net.ifaceId());
        NetSpec spec = netSpec(net.hostDevName(), net.vmguardSocket(), net.guestMac());
        for (NetworkInterface other : nets.values()) {
            if (other.ifaceId().equals(net.ifaceId())) {
                continue;
            }
            if (net.guestMac() != null && spec.mac().equals(netSpec(other.hostDevName(), other.vmguardSocket(), other.guestMac()).mac())) {
                throw ApiError.badRequest("The MAC address is already in use: " + net.guestMac());
            }
            if (net.hostDevName() != null && net.hostDevName().equals(other.hostDevName())) {
                throw ApiError.badRequest("The host device " + net.hostDevName() + " is already used by '" + other.ifaceId() + "'");
            }
            if (net.vmguardSocket() != null && other.vmguardSocket() != null
                    && net.vmguardSocket().localPath().equals(other.vmguardSocket().localPath())) {
                throw ApiError.badRequest("The socket " + net.vmguardSocket().localPath() + " is already used by '"
                        + other.ifaceId() + "'");
            }
        }
        nets.put(net.ifaceId(), net);
        touched = true;
    }

    /** A card's backend from Firecracker's TAP name or vmguard's socket pair, with its MAC if given. */
    static NetSpec netSpec(String tapName, SocketBackend socket, String guestMac) throws ApiError {
        try {
            Optional<MacAddress> mac = guestMac == null ? Optional.empty() : Optional.of(MacAddress.parse(guestMac));
            if (socket != null) {
                return new NetSpec.Socket(Path.of(socket.localPath()), Path.of(socket.peerPath()), mac);
            }
            NetSpec tap = NetSpec.parse("tap:" + Objects.requireNonNull(tapName));
            return new NetSpec.Tap(((NetSpec.Tap) tap).name(), mac);
        } catch (IllegalArgumentException e) { // InvalidPathException too
            throw ApiError.badRequest(e.getMessage());
        }
    }

    /** The VM to build at InstanceStart: the root drive first (as Firecracker orders it), then the rest as added. */
    public VmConfig toVmConfig(String engine, SerialTarget serial) throws ApiError {
        if (bootSource == null) {
            throw ApiError.badRequest("Cannot start microvm without kernel configuration (PUT /boot-source first)");
        }
        List<DiskConfig> disks = new ArrayList<>();
        String rootArgs = "";
        for (Drive drive : orderedDrives()) {
            String serialId = drive.driveId().length() <= DiskConfig.MAX_SERIAL_BYTES ? drive.driveId() : null;
            Path path = Path.of(drive.pathOnHost());
            disks.add(serialId == null ? new DiskConfig(path, drive.isReadOnly()) : new DiskConfig(path, drive.isReadOnly(), serialId));
            if (drive.isRootDevice()) {
                rootArgs = (drive.partuuid() != null ? " root=PARTUUID=" + drive.partuuid() : " root=/dev/vda")
                        + (drive.isReadOnly() ? " ro" : " rw");
            }
        }
        List<NetSpec> netSpecs = new ArrayList<>();
        for (NetworkInterface net : nets.values()) {
            netSpecs.add(netSpec(net.hostDevName(), net.vmguardSocket(), net.guestMac()).withModel(net.model()));
        }
        String commandLine = (bootSource.bootArgs() != null ? bootSource.bootArgs() : DEFAULT_BOOT_ARGS) + rootArgs;
        Path initrd = bootSource.initrdPath() == null ? null : Path.of(bootSource.initrdPath());
        return new VmConfig(Path.of(bootSource.kernelImagePath()), initrd, commandLine.strip(), machine.memSizeMib() << 20,
                engine, serial, disks, netSpecs, Optional.empty()).withVcpus(machine.vcpuCount());
    }

    private List<Drive> orderedDrives() {
        List<Drive> ordered = new ArrayList<>();
        drives.values().stream().filter(Drive::isRootDevice).forEach(ordered::add);
        drives.values().stream().filter(drive -> !drive.isRootDevice()).forEach(ordered::add);
        return ordered;
    }

    public FullVmConfig describe() {
        return new FullVmConfig(bootSource, machine, orderedDrives(), List.copyOf(nets.values()));
    }

    /** Firecracker's rule for resource ids in paths: letters, digits and underscores. */
    public static String checkedId(String id) throws ApiError {
        if (id == null || id.isEmpty()) {
            throw ApiError.badRequest("The ID cannot be empty.");
        }
        if (!id.chars().allMatch(c -> c == '_' || Character.isLetterOrDigit(c))) {
            throw ApiError.badRequest("API Resource IDs can only contain alphanumeric characters and underscores.");
        }
        return id;
    }

    private static void requireSameId(String pathId, String bodyId) throws ApiError {
        if (!checkedId(pathId).equals(bodyId)) {
            throw ApiError.badRequest("The id from the path [" + pathId + "] does not match the id from the body [" + bodyId + "]!");
        }
    }

    private static void requireFile(String path, String what) throws ApiError {
        Path file;
        try {
            file = Path.of(path);
        } catch (InvalidPathException e) {
            throw ApiError.badRequest(what + " path '" + path + "' is not a valid path");
        }
        if (!Files.isRegularFile(file)) {
            throw ApiError.badRequest("The " + what + " file cannot be opened: " + path
                    + (Files.exists(file) ? " is not a regular file" : " does not exist"));
        }
        if (!Files.isReadable(file)) {
            throw ApiError.badRequest("The " + what + " file cannot be opened: " + path + " is not readable");
        }
    }
}
