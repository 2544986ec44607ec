package io.vmguard.virtio.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real file channel with a window on it: counts force(true) calls (fsync), and can be told to fail
 * writes the way a full or broken disk does.
 */
public final class WatchedChannel extends FileChannel {
    private final FileChannel file;
    public final AtomicInteger forces = new AtomicInteger();
    public volatile boolean failWrites;
    /** When set, writes wait for it to open: a slow disk, so a test can look at a request under way. */
    public volatile CountDownLatch holdWrites;
    /** Counted down when a write arrives (before it is held). */
    public final CountDownLatch writeArrived = new CountDownLatch(1);

    public WatchedChannel(FileChannel file) {
        this.file = file;
    }

    /** A writable disk over {@code image} seen through a fresh watched channel, served on I/O thread {@code ioThread} (null: inline). */
    public static VirtioBlock device(Path image, WatchedChannel channel, String ioThread) throws IOException {
        return new VirtioBlock(new DiskImage(image, channel, false), "watched", ioThread);
    }

    /** A watched channel over {@code image}, open for reading and writing. */
    public static WatchedChannel open(Path image) throws IOException {
        return new WatchedChannel(FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE));
    }

    @Override
    public void force(boolean metaData) throws IOException {
        file.force(metaData);
        if (metaData) {
            forces.incrementAndGet();
        }
    }

    /** Waits while {@link #holdWrites} is shut. */
    private void arrive() throws IOException {
        writeArrived.countDown();
        CountDownLatch hold = holdWrites;
        if (hold != null) {
            try {
                hold.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
        arrive();
        if (failWrites) {
            throw new IOException("No space left on device");
        }
        return file.write(src, position);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        return file.read(dst, position);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return file.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        return file.read(dsts, offset, length);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        arrive();
        if (failWrites) {
            throw new IOException("No space left on device");
        }
        return file.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        arrive();
        if (failWrites) {
            throw new IOException("No space left on device");
        }
        return file.write(srcs, offset, length);
    }

    @Override
    public long position() throws IOException {
        return file.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
        file.position(newPosition);
        return this;
    }

    @Override
    public long size() throws IOException {
        return file.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
        file.truncate(size);
        return this;
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        return file.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
        return file.transferFrom(src, position, count);
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
        return file.map(mode, position, size);
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        return file.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        return file.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
        file.close();
    }
}
