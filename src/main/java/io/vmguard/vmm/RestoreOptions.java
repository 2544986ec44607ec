package io.vmguard.vmm;

import io.vmguard.net.NetSpec;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What a restore may change from the snapshot: where the consoles go, and the network backends (a clone
 * needs its own socket paths or TAP device, and its own MAC, or two clones would answer for one address).
 * Disks are reopened by the paths the snapshot recorded.
 *
 * @param serial  the COM1 console's target
 * @param console the virtio console's target, if the snapshot has one; empty keeps output nowhere
 * @param nets    replacement backends by card index (0 = eth0); a replacement's MAC, when given, replaces
 *                the card's saved MAC
 */
public record RestoreOptions(SerialTarget serial, Optional<SerialTarget> console, Map<Integer, NetSpec> nets) {
    public RestoreOptions {
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(console, "console");
        nets = Map.copyOf(nets);
    }

    /** Consoles to the given target, every network card as the snapshot had it. */
    public static RestoreOptions to(SerialTarget serial) {
        return new RestoreOptions(serial, Optional.empty(), Map.of());
    }
}
