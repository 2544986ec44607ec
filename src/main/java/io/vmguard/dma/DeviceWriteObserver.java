package io.vmguard.dma;

/**
 * Told after a device changed guest memory through a {@link GuestDmaSpace}: the engine must forget anything it
 * derived from those bytes (an interpreter's decoded instructions, a code page's approval). Called on the
 * device's thread, after the bytes are in place and before the device tells the guest (used ring, interrupt):
 * keep it short and never block.
 */
@FunctionalInterface
public interface DeviceWriteObserver {
    DeviceWriteObserver NONE = (address, length) -> { };

    /** {@code length} bytes at guest-physical {@code address} were just written. */
    void written(long address, long length);
}
