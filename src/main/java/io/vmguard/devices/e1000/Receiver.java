package io.vmguard.devices.e1000;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The receive ring (8254x manual 3.2): writes one frame into the buffers of the descriptors from RDH on,
 * each buffer RCTL's buffer size, and writes back length, status (DD, EOP on the last, IXSM: the card
 * does not check checksums, so the driver does) and the stripped VLAN tag. A descriptor without a buffer
 * (address 0) is written back empty, as QEMU does, and the frame goes on in the next one.
 *
 * <p>Bounded: the frame uses at most the descriptors the driver made free (RDH up to RDT); a DMA fault
 * on a buffer or descriptor ends the frame there (dropped and counted by the caller), the descriptors it
 * used stay used.
 */
final class Receiver implements AutoCloseable {
    static final int STA_DD = 1, STA_EOP = 1 << 1, STA_IXSM = 1 << 2, STA_VP = 1 << 3;

    /** A ring as the registers describe it now. */
    record Ring(long base, int size, int head, int tail) {
        /** Descriptors the driver has handed over: from head up to (not including) tail. */
        int free() {
            return Math.floorMod(tail - head, size);
        }
    }

    /** Where the ring's head is after a frame, and whether all of the frame arrived. */
    record Outcome(int head, boolean delivered, DmaFault fault) {}

    private final Arena arena = Arena.ofShared();
    private final MemorySegment writeBack = arena.allocate(8);

    Outcome write(DmaSpace dma, Ring ring, MemorySegment frame, int bufferSize, int special, boolean tagged) {
        int head = ring.head();
        long length = frame.byteSize();
        long done = 0;
        int available = ring.free();
        while (available-- > 0) {
            long address = ring.base() + (long) head * Reg.DESCRIPTOR_BYTES;
            head = head + 1 == ring.size() ? 0 : head + 1;
            try {
                long buffer = dma.readLong(address);
                int chunk = 0;
                if (buffer != 0) {
                    chunk = (int) Math.min(bufferSize, length - done);
                    dma.write(buffer, frame.asSlice(done, chunk));
                    done += chunk;
                }
                boolean last = done == length;
                int status = STA_DD | STA_IXSM | (last ? STA_EOP : 0) | (tagged ? STA_VP : 0);
                writeBack.set(ValueLayout.JAVA_LONG_UNALIGNED, 0,
                        (chunk & 0xffffL) | (long) status << 32 | (long) (tagged ? special & 0xffff : 0) << 48);
                dma.write(address + 8, writeBack);
                if (last) {
                    return new Outcome(head, true, null);
                }
            } catch (DmaFault fault) {
                return new Outcome(head, false, fault);
            }
        }
        return new Outcome(head, false, null);
    }

    /** How many buffers of {@code bufferSize} a frame of {@code length} bytes needs. */
    static int buffersFor(long length, int bufferSize) {
        return (int) ((length + bufferSize - 1) / bufferSize);
    }

    /** RCTL's buffer size: BSIZE with BSEX (x16), 256 to 16384 bytes. */
    static int bufferSize(int rctl) {
        int bsize = rctl >>> Reg.RCTL_BSIZE_SHIFT & 3;
        int size = 2048 >> bsize;
        return (rctl & Reg.RCTL_BSEX) != 0 && bsize != 0 ? size * 16 : size;
    }

    @Override
    public void close() {
        arena.close();
    }
}
