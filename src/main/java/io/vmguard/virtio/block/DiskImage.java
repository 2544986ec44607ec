package io.vmguard.virtio.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A raw disk image file seen as 512-byte sectors. Only whole sectors are exposed: the bytes of a last
 * partial sector (an image whose size is not a multiple of 512) are neither readable nor writable by the
 * guest, and the file never grows.
 *
 * <p>The image is locked for as long as it is open (a POSIX record lock over the whole file: shared when
 * read-only, exclusive otherwise), so that two VMs cannot write the same file behind each other's back;
 * other processes may share a read-only image. Within one VM an image backs one disk only (the JDK
 * refuses overlapping locks inside one process, shared or not).
 *
 * <p>{@link FileChannel} is interruptible: a thread interrupted during an I/O call closes the channel for
 * good. vmguard never interrupts a thread that does the I/O: the vCPU, or the disk's I/O thread, which
 * {@link io.vmguard.virtio.IoThread#close} stops with a flag and an unpark, never an interrupt.
 */
public final class DiskImage implements AutoCloseable {
    public static final int SECTOR_BYTES = 512;

    private final Path path;
    private final FileChannel channel;
    private final boolean readOnly;
    private final long bytes;
    private final long sectors;

    /** Over an open channel; the seam tests use to watch what reaches the file (e.g. that force is called). */
    DiskImage(Path path, FileChannel channel, boolean readOnly) throws IOException {
        this.path = path;
        this.channel = channel;
        this.readOnly = readOnly;
        this.bytes = channel.size();
        this.sectors = bytes / SECTOR_BYTES;
    }

    /**
     * Opens and locks the image.
     *
     * @throws IOException with a one-line message naming the file: missing, not a regular file, not
     *                     readable (or writable, unless read-only), or in use
     */
    public static DiskImage open(DiskConfig config) throws IOException {
        Path path = config.path();
        if (!Files.exists(path)) {
            throw new IOException("disk image " + path + " not found");
        }
        if (!Files.isRegularFile(path)) {
            throw new IOException("disk image " + path + " is not a regular file");
        }
        FileChannel channel;
        try {
            channel = config.readOnly()
                    ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (AccessDeniedException e) {
            throw new IOException("disk image " + path + " is not " + (config.readOnly() ? "readable" : "readable and writable (add ,readonly?)"), e);
        } catch (FileSystemException e) {
            throw new IOException("cannot open disk image " + path + ": " + (e.getReason() != null ? e.getReason() : e.getMessage()), e);
        } catch (IOException e) {
            throw new IOException("cannot open disk image " + path + ": " + e.getMessage(), e);
        }
        try {
            lock(channel, path, config.readOnly());
            return new DiskImage(path, channel, config.readOnly());
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    /** The lock goes with the channel: closing the channel releases it. */
    private static void lock(FileChannel channel, Path path, boolean shared) throws IOException {
        FileLock lock;
        try {
            lock = channel.tryLock(0, Long.MAX_VALUE, shared);
        } catch (OverlappingFileLockException e) {
            lock = null; // this VM already holds it, through another disk
        }
        if (lock == null) {
            throw new IOException("disk image " + path + " is in use by another disk or process");
        }
    }

    public Path path() {
        return path;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** The file's size when it was opened, partial last sector included. */
    public long bytes() {
        return bytes;
    }

    /** The guest-visible size in 512-byte sectors. */
    public long sectors() {
        return sectors;
    }

    /**
     * Whether {@code count} sectors from {@code sector} lie inside the disk. A sector number the guest sent
     * as an unsigned 64-bit value above {@code Long.MAX_VALUE} arrives negative and is outside.
     */
    public boolean contains(long sector, long count) {
        return sector >= 0 && count >= 0 && sector <= sectors && count <= sectors - sector;
    }

    /** Fills {@code buffer}'s remaining bytes from the file at {@code offset}; end of file here is an error. */
    public void read(long offset, ByteBuffer buffer) throws IOException {
        long position = offset;
        while (buffer.hasRemaining()) {
            int count = channel.read(buffer, position);
            if (count < 0) {
                throw new IOException("unexpected end of file at byte " + position + " (was the image truncated?)");
            }
            position += count;
        }
    }

    /** Writes all of {@code buffer}'s remaining bytes at {@code offset}. */
    public void write(long offset, ByteBuffer buffer) throws IOException {
        long position = offset;
        while (buffer.hasRemaining()) {
            position += channel.write(buffer, position);
        }
    }

    /** Makes every completed write durable: data and metadata reach the storage device (fsync). */
    public void flush() throws IOException {
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
