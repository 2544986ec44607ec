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
 * @param iommu   every device's DMA through a virtio-iommu (the default): a device reaches only what the
 *                guest mapped for it; off, devices reach all of guest memory, as on most VMMs
 * @param dmaTestDevice a PCI DMA test device (1234:11e9) the guest can program to copy to and from any bus
 *                address: the attacker's tool in the IOMMU's tests
 */
public record VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial,
                       List<DiskConfig> disks, List<NetSpec> nets, Optional<SerialTarget> console,
                       VirtioTransport virtioTransport, boolean iommu, boolean dmaTestDevice, int vcpus) {
    /** vCPUs a VM may have: the interpreter's limit, and eight times what the guest image's kernel is built for. */
    public static final int MAX_VCPUS = 64;

    public VmConfig {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("a VM has 1 to " + MAX_VCPUS + " vCPUs, not " + vcpus);
        }
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(commandLine, "commandLine");
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(serial, "serial");
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
        Objects.requireNonNull(console, "console");
        Objects.requireNonNull(virtioTransport, "virtioTransport");
    }

    /** One vCPU. */
    public VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial,
                    List<DiskConfig> disks, List<NetSpec> nets, Optional<SerialTarget> console,
                    VirtioTransport virtioTransport, boolean iommu, boolean dmaTestDevice) {
        this(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, virtioTransport, iommu,
                dmaTestDevice, 1);
    }

    /** The devices given, behind the IOMMU (the default), no test device. */
    public VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial,
                    List<DiskConfig> disks, List<NetSpec> nets, Optional<SerialTarget> console, VirtioTransport virtioTransport) {
        this(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, virtioTransport, true, false);
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
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, newDisks, nets, console, virtioTransport,
                iommu, dmaTestDevice, vcpus);
    }

    public VmConfig withNets(List<NetSpec> newNets) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, newNets, console, virtioTransport,
                iommu, dmaTestDevice, vcpus);
    }

    public VmConfig withVirtioTransport(VirtioTransport newTransport) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, newTransport, iommu,
                dmaTestDevice, vcpus);
    }

    public VmConfig withConsole(SerialTarget newConsole) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, Optional.of(newConsole), virtioTransport,
                iommu, dmaTestDevice, vcpus);
    }

    public VmConfig withIommu(boolean on) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, virtioTransport, on,
                dmaTestDevice, vcpus);
    }

    public VmConfig withDmaTestDevice(boolean present) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, virtioTransport, iommu,
                present, vcpus);
    }

    public VmConfig withVcpus(int count) {
        return new VmConfig(kernel, initrd, commandLine, memoryBytes, engine, serial, disks, nets, console, virtioTransport, iommu,
                dmaTestDevice, count);
    }
}
