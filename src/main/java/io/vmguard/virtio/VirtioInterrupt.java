package io.vmguard.virtio;

/** How a device tells the driver something happened; the transport decides the wire (INTx line, MSI-X vector). */
public interface VirtioInterrupt {
    /** Buffers were returned on queue {@code queueIndex}. */
    void usedBuffers(int queueIndex);

    /** The device's configuration (or its status: NEEDS_RESET) changed. */
    void configurationChanged();
}
