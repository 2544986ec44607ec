package io.vmguard.dma;

import java.lang.foreign.MemorySegment;

/**
 * The one door between a device model and guest memory: reads and writes of a bus address range, as seen
 * by one device. Device models hold a {@code DmaSpace}, never guest RAM, so whatever sits behind the door
 * (today the identity map of {@link GuestDmaSpace}, later the paravirtual IOMMU's translation) decides
 * what a device may touch.
 *
 * <p>Every method fails with {@link DmaFault} when any byte of the range is not reachable with that access
 * (outside guest RAM, unmapped, or not permitted); nothing is transferred then. Implementations are
 * thread-safe: a device's backend threads and the vCPU may use the same space.
 */
public interface DmaSpace {
    /** Copies {@code destination.byteSize()} bytes from bus address {@code address} into {@code destination}. */
    void read(long address, MemorySegment destination) throws DmaFault;

    /** Copies all of {@code source} to bus address {@code address}. */
    void write(long address, MemorySegment source) throws DmaFault;

    /** A little-endian 16-bit load (virtqueue indices and flags). */
    short readShort(long address) throws DmaFault;

    int readInt(long address) throws DmaFault;

    long readLong(long address) throws DmaFault;

    void writeShort(long address, short value) throws DmaFault;

    void writeInt(long address, int value) throws DmaFault;
}
