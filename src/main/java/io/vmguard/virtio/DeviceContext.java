package io.vmguard.virtio;

import io.vmguard.dma.DmaSpace;
import java.util.List;

/**
 * What a device gets when the driver sets DRIVER_OK: the features both sides agreed on, its queues (one
 * per queue the device declared; a queue the driver left disabled is absent), its door to memory and
 * its interrupt.
 *
 * @param failure where a device reports, from any thread, that the driver broke the contract
 */
public record DeviceContext(long features, List<Virtqueue> queues, DmaSpace dma, VirtioInterrupt interrupt,
                            DeviceFailure failure) {
    public DeviceContext {
        queues = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(queues));
    }

    /** Queue {@code index}, or null when the driver did not enable it. */
    public Virtqueue queue(int index) {
        return index < queues.size() ? queues.get(index) : null;
    }

    public boolean negotiated(long feature) {
        return (features & feature) != 0;
    }

    /** A device found the driver breaking the contract: the transport moves to DEVICE_NEEDS_RESET. */
    @FunctionalInterface
    public interface DeviceFailure {
        void failed(String reason);
    }
}
