package io.vmguard.virtio;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One request from the driver: the buffers of a descriptor chain, device-readable ones first, then
 * device-writable ones (the {@link Virtqueue} checks that order). Offsets passed to {@link #read} and
 * {@link #write} count from the start of the readable part and of the writable part respectively, so a
 * device never cares how the driver split its request into buffers.
 *
 * @param head the index the device returns in the used ring
 */
public record DescriptorChain(int head, List<Buffer> buffers, long readableBytes, long writableBytes) {
    /** One descriptor: {@code length} bytes at bus address {@code address}. */
    public record Buffer(long address, long length, boolean deviceWritable) {}

    public DescriptorChain {
        buffers = List.copyOf(buffers);
    }

    static DescriptorChain of(int head, List<Buffer> buffers) {
        long readable = 0;
        long writable = 0;
        for (Buffer buffer : buffers) {
            if (buffer.deviceWritable()) {
                writable += buffer.length();
            } else {
                readable += buffer.length();
            }
        }
        return new DescriptorChain(head, buffers, readable, writable);
    }

    /**
     * Copies readable bytes {@code [offset, offset + destination.byteSize())} into {@code destination}.
     *
     * @throws IllegalArgumentException when the range is not inside the readable part (check first)
     */
    public void read(DmaSpace dma, long offset, MemorySegment destination) throws DmaFault {
        transfer(dma, false, offset, destination);
    }

    /** Copies {@code source} to writable bytes starting at {@code offset}. */
    public void write(DmaSpace dma, long offset, MemorySegment source) throws DmaFault {
        transfer(dma, true, offset, source);
    }

    private void transfer(DmaSpace dma, boolean toGuest, long offset, MemorySegment data) throws DmaFault {
        long length = data.byteSize();
        long available = toGuest ? writableBytes : readableBytes;
        if (offset < 0 || offset + length > available) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " is outside the chain's "
                    + (toGuest ? "writable" : "readable") + " " + available + " bytes");
        }
        long done = 0;
        long skip = offset;
        for (Buffer buffer : buffers) {
            if (buffer.deviceWritable() != toGuest || done == length) {
                continue;
            }
            if (skip >= buffer.length()) {
                skip -= buffer.length();
                continue;
            }
            long chunk = Math.min(buffer.length() - skip, length - done);
            MemorySegment part = data.asSlice(done, chunk);
            if (toGuest) {
                dma.write(buffer.address() + skip, part);
            } else {
                dma.read(buffer.address() + skip, part);
            }
            done += chunk;
            skip = 0;
        }
    }
}
