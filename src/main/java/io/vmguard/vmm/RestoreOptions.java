package io.vmguard.vmm;

import io.vmguard.net.MacAddress;
import io.vmguard.net.NetSpec;
import io.vmguard.virtio.block.DiskConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a restore may change from the snapshot: where the consoles go, and the network backends (a clone
 * needs its own socket paths or TAP device, and its own MAC, or two clones would answer for one address).
 * Disks are reopened by the paths the snapshot recorded, or by replacements: a disk is opened by one VM
 * at a time, so clones that write need their own copies (of the same size; read-only flag and serial stay).
 *
 * @param serial  the COM1 console's target
 * @param console the virtio console's target, if the snapshot has one; empty keeps output nowhere
 * @param nets    replacement backends by card index (0 = eth0); a replacement's MAC, when given, replaces
 *                the card's saved MAC
 * @param disks   replacement image files by disk index (0 = vda)
 */
public record RestoreOptions(SerialTarget serial, Optional<SerialTarget> console, Map<Integer, NetSpec> nets,
                             Map<Integer, Path> disks) {
    public RestoreOptions {
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(console, "console");
        nets = Map.copyOf(nets);
        disks = Map.copyOf(disks);
    }

    /** Network replacements only. */
    public RestoreOptions(SerialTarget serial, Optional<SerialTarget> console, Map<Integer, NetSpec> nets) {
        this(serial, console, nets, Map.of());
    }

    /** Consoles to the given target, every network card and disk as the snapshot had it. */
    public static RestoreOptions to(SerialTarget serial) {
        return new RestoreOptions(serial, Optional.empty(), Map.of(), Map.of());
    }

    /** The configuration to rebuild the snapshot's VM with: {@code saved}, with these replacements. */
    VmConfig applyTo(VmConfig saved) throws VmException {
        List<NetSpec> cards = new ArrayList<>(saved.nets());
        for (var replacement : nets().entrySet()) {
            int index = replacement.getKey();
            if (index < 0 || index >= cards.size()) {
                throw new VmException("network override for card " + index + ": the snapshot has " + cards.size() + " cards");
            }
            // A replacement changes the backend (and maybe the MAC), never the card the guest has.
            cards.set(index, replacement.getValue().withModel(cards.get(index).model()));
        }
        List<DiskConfig> images = new ArrayList<>(saved.disks());
        for (var replacement : disks().entrySet()) {
            int index = replacement.getKey();
            if (index < 0 || index >= images.size()) {
                throw new VmException("disk override for disk " + index + ": the snapshot has " + images.size() + " disks");
            }
            DiskConfig disk = images.get(index);
            images.set(index, new DiskConfig(replacement.getValue(), disk.readOnly(), disk.serial()));
        }
        Optional<SerialTarget> virtioConsole = saved.console().isPresent()
                ? Optional.of(console().orElse(new SerialTarget.Null())) : Optional.empty();
        return new VmConfig(saved.kernel(), saved.initrd(), saved.commandLine(), saved.memoryBytes(), saved.engine(),
                serial(), images, cards, virtioConsole, saved.virtioTransport(), saved.iommu(), saved.dmaTestDevice(),
                saved.vcpus());
    }

    /** The MACs the replacements give, by card index: a clone's cards answer for their own addresses. */
    Map<Integer, MacAddress> macs() {
        Map<Integer, MacAddress> macs = new HashMap<>();
        nets().forEach((card, spec) -> spec.mac().ifPresent(mac -> macs.put(card, mac)));
        return macs;
    }
}
