package io.vmguard.virtio.block;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.virtio.DescriptorChain;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One virtio-blk request (virtio 1.2, section 5.2.6) as decoded from its chain: a 16-byte header (type,
 * reserved, sector) at the start of the device-readable part, then the data (device-readable for writes,
 * device-writable for reads), then the status byte, the last device-writable byte. Sizes come from the
 * chain's shape, never from the guest's say-so, so a request cannot reach past its own buffers.
 */
sealed interface BlockRequest {
    int HEADER_BYTES = 16;

    int T_IN = 0;
    int T_OUT = 1;
    int T_FLUSH = 4;
    int T_GET_ID = 8;
    int T_WRITE_ZEROES = 13;

    /** Read {@code bytes} from {@code sector} into the chain's writable data. */
    record Read(long sector, long bytes) implements BlockRequest {}

    /** Write the chain's {@code bytes} of readable data at {@code sector}. */
    record Write(long sector, long bytes) implements BlockRequest {}

    record Flush() implements BlockRequest {}

    /** Put the device ID into the chain's {@code bytes} of writable data. */
    record GetId(long bytes) implements BlockRequest {}

    /** Zero the ranges listed in {@code bytes} of readable data (16-byte segments). */
    record WriteZeroes(long bytes) implements BlockRequest {}

    /** A type this device does not implement (or did not offer): VIRTIO_BLK_S_UNSUPP. */
    record Unsupported(int type) implements BlockRequest {}

    /** A request that cannot be carried out as sent: VIRTIO_BLK_S_IOERR. */
    record Malformed(String reason) implements BlockRequest {}

    /**
     * Decodes {@code chain}, whose writable part holds at least the status byte.
     *
     * @param header 16 bytes of scratch space for the header
     */
    static BlockRequest decode(DescriptorChain chain, DmaSpace dma, MemorySegment header) {
        if (chain.readableBytes() < HEADER_BYTES) {
            return new Malformed("header of " + chain.readableBytes() + " bytes, not " + HEADER_BYTES);
        }
        try {
            chain.read(dma, 0, header);
        } catch (DmaFault fault) {
            return new Malformed("header: " + fault.getMessage());
        }
        int type = header.get(Layouts.INT, 0);
        long sector = header.get(Layouts.LONG, 8);
        long readableData = chain.readableBytes() - HEADER_BYTES;
        long writableData = chain.writableBytes() - 1;
        return switch (type) {
            case T_IN -> new Read(sector, writableData);
            case T_OUT -> new Write(sector, readableData);
            case T_FLUSH -> new Flush();
            case T_GET_ID -> new GetId(writableData);
            case T_WRITE_ZEROES -> new WriteZeroes(readableData);
            default -> new Unsupported(type);
        };
    }

    /** Little-endian layouts of the request structures. */
    final class Layouts {
        static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private Layouts() {}
    }
}
