package io.vmguard.dma;

/**
 * Told of each write a device makes to guest memory through a {@link GuestDmaSpace}, before the bytes change
 * and after: the engine must forget what it derived from those bytes (an interpreter's decoded instructions,
 * a code frame's approval), and must not trust what it reads there in between. Called on the device's thread;
 * keep both short and never block. {@link #written} comes after the bytes are in place and before the device
 * tells the guest (used ring, interrupt).
 */
@FunctionalInterface
public interface DeviceWriteObserver {
    DeviceWriteObserver NONE = (address, length) -> { };

    /** {@code length} bytes at guest-physical {@code address} are about to change; {@link #written} follows. */
    default void writing(long address, long length) {
    }

    /** The write {@link #writing} announced is done. */
    void written(long address, long length);
}
