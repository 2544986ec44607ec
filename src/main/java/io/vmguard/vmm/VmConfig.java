package io.vmguard.vmm;

import io.vmguard.net.NetSpec;
import io.vmguard.virtio.block.DiskConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Objects;

/**
 * Everything needed to build and boot one VM.
 *
 * @param disks   virtio-blk devices, in the order the guest sees them (vda, vdb, ...)
 * @param nets    virtio-net devices, in order (eth0, eth1, ...)
 * @param console the virtio console (hvc0), or empty for none
 * @param virtioTransport how the virtio devices reach the guest
 */
public record VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial,
                       List<DiskConfig> disks, List<NetSpec> nets, Optional<SerialTarget> console,
                       VirtioTransport virtioTransport) {
    public VmConfig {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(commandLine, "commandLine");
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(serial, "serial");
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
        Objects.requireNonNull(console, "console");
        Objects.requireNonNull(virtioTransport, "virtioTransport");
    }

    /** The devices given, on the default transport (PCI). */
    public VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial,
                    List<DiskConfig> disks, List<NetSpec> nets, Optional<SerialTarget> console) {
        this(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, VirtioTransport.PCI);
    }

    /** A VM with the legacy devices only. */
    public VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial) {
        this(kernel, initrd, commandLine, memoryBytes, engine, serial, List.of(), List.of(), Optional.empty());
    }

    public VmConfig withDisks(List<DiskConfig> newDisks) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, newDisks, nets, console, virtioTransport);
    }

    public VmConfig withNets(List<NetSpec> newNets) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, newNets, console, virtioTransport);
    }

    public VmConfig withVirtioTransport(VirtioTransport newTransport) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, newTransport);
    }

    public VmConfig withConsole(SerialTarget newConsole) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, Optional.of(newConsole), virtioTransport);
    }
}
