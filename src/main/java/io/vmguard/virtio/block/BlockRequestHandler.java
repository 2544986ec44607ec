package io.vmguard.virtio.block;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.events.GuestLog;
import io.vmguard.virtio.DescriptorChain;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * Carries out virtio-blk requests against a {@link DiskImage}. Data moves between the file and guest
 * memory through one reusable direct buffer, a chunk at a time, so a request of any size costs no
 * allocation and the guest's buffers are only ever touched through the {@link DmaSpace}.
 *
 * <p>Everything the guest sends is checked before the file is touched: a request outside the disk, with
 * a length that is not whole sectors, or writing a read-only disk completes with IOERR and changes
 * nothing. A data buffer that faults part-way ends the request with IOERR; like a real disk, a write may
 * then have reached the file in part. Host I/O errors complete the request with IOERR and are logged.
 * Not thread-safe: one queue's requests are handled one at a time.
 */
final class BlockRequestHandler {
    /**
     * What one request did: its status, how many bytes went into the guest's data buffers, and how many
     * moved between the guest and the disk either way (for the device's counters).
     */
    record Completion(BlockStatus status, long dataBytes, long movedBytes) {
        static final Completion OK = new Completion(BlockStatus.OK, 0, 0);
        static final Completion IOERR = new Completion(BlockStatus.IOERR, 0, 0);
        static final Completion UNSUPP = new Completion(BlockStatus.UNSUPP, 0, 0);

        /** Bytes read into the guest's buffers: they count as data and as moved. */
        static Completion read(BlockStatus status, long bytes) {
            return new Completion(status, bytes, bytes);
        }
    }

    static final int CHUNK_BYTES = 128 * 1024;
    /** Bytes per WRITE_ZEROES segment: sector (le64), num_sectors (le32), flags (le32). */
    static final int SEGMENT_BYTES = 16;
    static final int WRITE_ZEROES_FLAG_UNMAP = 1;
    private static final int ID_BYTES = DiskConfig.MAX_SERIAL_BYTES;
    /** Host errors logged per device; a failing disk must not flood the terminal. */

    private final DiskImage disk;
    private final byte[] serial;
    private final ByteBuffer buffer;
    private final MemorySegment bounce;
    private final MemorySegment scratch = MemorySegment.ofArray(new byte[SEGMENT_BYTES]);
    private final boolean writeZeroes;
    private final int maxWriteZeroesSectors;
    private final boolean writeThrough;

    /**
     * @param buffer       the direct buffer data moves through (reused across activations)
     * @param writeZeroes  whether WRITE_ZEROES was negotiated
     * @param writeThrough whether each write must be durable before it completes (the driver did not
     *                     negotiate FLUSH, so it will never ask for one)
     */
    BlockRequestHandler(DiskImage disk, byte[] serial, ByteBuffer buffer, boolean writeZeroes, int maxWriteZeroesSectors,
                        boolean writeThrough) {
        this.disk = disk;
        this.serial = serial.clone();
        this.buffer = buffer;
        this.bounce = MemorySegment.ofBuffer(buffer.clear());
        this.writeZeroes = writeZeroes;
        this.maxWriteZeroesSectors = maxWriteZeroesSectors;
        this.writeThrough = writeThrough;
    }

    /** Carries out the request in {@code chain}, whose last writable byte is the status byte (not written here). */
    Completion execute(DescriptorChain chain, DmaSpace dma) {
        return switch (BlockRequest.decode(chain, dma, scratch)) {
            case BlockRequest.Read(long sector, long bytes) -> read(chain, dma, sector, bytes);
            case BlockRequest.Write(long sector, long bytes) -> write(chain, dma, sector, bytes);
            case BlockRequest.Flush() -> flush();
            case BlockRequest.GetId(long bytes) -> getId(chain, dma, bytes);
            case BlockRequest.WriteZeroes(long bytes) -> writeZeroes ? writeZeroes(chain, dma, bytes) : Completion.UNSUPP;
            case BlockRequest.Unsupported unsupported -> Completion.UNSUPP;
            case BlockRequest.Malformed malformed -> Completion.IOERR;
        };
    }

    private boolean validRange(long sector, long bytes) {
        return bytes % DiskImage.SECTOR_BYTES == 0 && disk.contains(sector, bytes / DiskImage.SECTOR_BYTES);
    }

    private Completion read(DescriptorChain chain, DmaSpace dma, long sector, long bytes) {
        if (!validRange(sector, bytes)) {
            return Completion.IOERR;
        }
        long base = sector * DiskImage.SECTOR_BYTES;
        long done = 0;
        try {
            while (done < bytes) {
                int length = (int) Math.min(CHUNK_BYTES, bytes - done);
                disk.read(base + done, buffer.clear().limit(length));
                chain.write(dma, done, bounce.asSlice(0, length));
                done += length;
            }
        } catch (DmaFault fault) {
            return Completion.read(BlockStatus.IOERR, done);
        } catch (IOException e) {
            logHostError("read of " + bytes + " bytes at sector " + sector, e);
            return Completion.read(BlockStatus.IOERR, done);
        }
        return Completion.read(BlockStatus.OK, bytes);
    }

    private Completion write(DescriptorChain chain, DmaSpace dma, long sector, long bytes) {
        // A read-only device must fail writes without writing anything (virtio 1.2, 5.2.6.2).
        if (disk.readOnly() || !validRange(sector, bytes)) {
            return Completion.IOERR;
        }
        long base = sector * DiskImage.SECTOR_BYTES;
        try {
            for (long done = 0; done < bytes; ) {
                int length = (int) Math.min(CHUNK_BYTES, bytes - done);
                chain.read(dma, BlockRequest.HEADER_BYTES + done, bounce.asSlice(0, length));
                disk.write(base + done, buffer.clear().limit(length));
                done += length;
            }
            if (writeThrough) {
                disk.flush();
            }
        } catch (DmaFault fault) {
            return Completion.IOERR;
        } catch (IOException e) {
            logHostError("write of " + bytes + " bytes at sector " + sector, e);
            return Completion.IOERR;
        }
        return new Completion(BlockStatus.OK, 0, bytes);
    }

    /** Durable before the request completes: the guest's journal commits rely on it. */
    private Completion flush() {
        if (disk.readOnly()) {
            return Completion.OK; // nothing was written through this device
        }
        try {
            disk.flush();
            return Completion.OK;
        } catch (IOException e) {
            logHostError("flush", e);
            return Completion.IOERR;
        }
    }

    private Completion getId(DescriptorChain chain, DmaSpace dma, long bytes) {
        if (bytes < ID_BYTES) {
            return Completion.IOERR;
        }
        try {
            chain.write(dma, 0, MemorySegment.ofArray(serial));
            return Completion.read(BlockStatus.OK, ID_BYTES);
        } catch (DmaFault fault) {
            return Completion.IOERR;
        }
    }

    /**
     * Zeroes one range by writing zeroes: the file keeps its blocks (this device never deallocates, and says
     * so with write_zeroes_may_unmap = 0), so reads return zeroes on any host filesystem.
     */
    private Completion writeZeroes(DescriptorChain chain, DmaSpace dma, long bytes) {
        // One segment per request, as the device's max_write_zeroes_seg says.
        if (disk.readOnly() || bytes != SEGMENT_BYTES) {
            return Completion.IOERR;
        }
        long sector;
        long count;
        try {
            chain.read(dma, BlockRequest.HEADER_BYTES, scratch);
            sector = scratch.get(BlockRequest.Layouts.LONG, 0);
            count = Integer.toUnsignedLong(scratch.get(BlockRequest.Layouts.INT, 8));
            if ((scratch.get(BlockRequest.Layouts.INT, 12) & ~WRITE_ZEROES_FLAG_UNMAP) != 0) {
                return Completion.UNSUPP; // unknown flags: the spec asks for UNSUPP
            }
        } catch (DmaFault fault) {
            return Completion.IOERR;
        }
        if (count > maxWriteZeroesSectors || !disk.contains(sector, count)) {
            return Completion.IOERR;
        }
        long base = sector * DiskImage.SECTOR_BYTES;
        long length = count * DiskImage.SECTOR_BYTES;
        bounce.fill((byte) 0);
        try {
            for (long done = 0; done < length; ) {
                int chunk = (int) Math.min(CHUNK_BYTES, length - done);
                disk.write(base + done, buffer.clear().limit(chunk));
                done += chunk;
            }
            if (writeThrough) {
                disk.flush();
            }
        } catch (IOException e) {
            logHostError("write-zeroes of " + count + " sectors at sector " + sector, e);
            return Completion.IOERR;
        }
        return Completion.OK;
    }

    private void logHostError(String what, IOException e) {
        GuestLog.warn("virtio-blk.host-error", "virtio-blk " + disk.path() + ": " + what + " failed: " + e.getMessage());
    }
}
