package io.vmguard.vmm;

import io.vmguard.net.NetSpec;
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
}
