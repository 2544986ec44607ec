package io.vmguard.virtio;

import java.lang.foreign.MemorySegment;

/**
 * A virtio device model, independent of its transport (virtio-mmio or virtio-pci). The transport runs
 * the status, feature and queue set-up protocol; the device sees only the outcome.
 *
 * <p>Lifecycle: {@link #activate} once the driver sets DRIVER_OK, then {@link #queueNotified} for each
 * kick, then {@link #reset} when the driver resets the device (after which it may be activated again).
 * Calls come from the vCPU thread; a device with threads of its own serialises its state.
 */
public interface VirtioDevice extends AutoCloseable {
    DeviceType type();

    /** The device-specific feature bits it offers (the transport adds {@link VirtioFeatures#TRANSPORT}). */
    long features();

    /** How many virtqueues it has. */
    int queueCount();

    /** The largest size the driver may give each queue (a power of two). */
    default int maxQueueSize() {
        return 256;
    }

    /** Reads the device-specific configuration space; bytes beyond it read as zero. */
    void readConfig(long offset, MemorySegment data);

    /** Writes the device-specific configuration space; writes to read-only fields are ignored. */
    default void writeConfig(long offset, MemorySegment data) {}

    /** The driver is ready; the device may use its queues from now on. */
    void activate(DeviceContext context);

    /**
     * The driver made buffers available on queue {@code queueIndex}.
     *
     * @throws QueueException when the queue is malformed; the transport sets DEVICE_NEEDS_RESET
     */
    void queueNotified(int queueIndex) throws QueueException;

    /** Back to the state before {@link #activate}: stop using the queues, forget the context. */
    void reset();

    /** Releases host resources (files, sockets, threads) when the VM ends. */
    @Override
    default void close() {}
}
