package io.vmguard.virtio.block;

import io.vmguard.dma.DmaFault;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.ConfigSpace;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.DeviceMeter;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.IoThread;
import io.vmguard.virtio.PauseGate;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.Virtqueue;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * virtio-blk (virtio 1.2, section 5.2) over a raw image file: one request queue; reads, writes, durable
 * flushes, GET_ID and WRITE_ZEROES; read-only images are offered with VIRTIO_BLK_F_RO. The guest sees
 * it as /dev/vda (vdb, ... in the order disks are added).
 *
 * <p>Not offered: DISCARD (punching holes needs fallocate(2), which Java's file API lacks),
 * SIZE_MAX, GEOMETRY, TOPOLOGY, CONFIG_WCE, MQ. Unknown request types complete with UNSUPP.
 *
 * <p>A chain with no device-writable byte has nowhere to put its status: that driver is broken, and the
 * queue fails ({@link QueueException}, the transport sets DEVICE_NEEDS_RESET). Every other mistake is
 * that request's IOERR or UNSUPP.
 *
 * <p>Where requests run: built with an I/O thread ({@link #open(DiskConfig, String)}, as the VMM does),
 * a kick only wakes that thread and the vCPU goes back to the guest while the disk works; built without
 * one, requests run inside {@link #queueNotified} on the kicking thread. Either way a round takes every
 * available request under the device's lock and interrupts once after it (if the driver asked).
 *
 * <p>Pause and snapshots: a round runs inside the {@link PauseGate}, so once {@link #pause} has waited for
 * the one under way (if any) no request is half done: the queue positions are the whole state. Kicks while
 * paused are ignored; the transport kicks again at resume.
 */
public final class VirtioBlock implements VirtioDevice {
    public static final long F_SEG_MAX = 1L << 2;
    public static final long F_RO = 1L << 5;
    public static final long F_BLK_SIZE = 1L << 6;
    public static final long F_FLUSH = 1L << 9;
    public static final long F_WRITE_ZEROES = 1L << 14;

    static final int QUEUE_SIZE = 256;
    /** 32 MiB of zeroes per request bounds how long one request holds the device (and a reset waits for it). */
    static final int MAX_WRITE_ZEROES_SECTORS = 65536;
    static final int MAX_WRITE_ZEROES_SEGMENTS = 1;

    /** Offsets in struct virtio_blk_config. */
    static final int CONFIG_CAPACITY = 0;
    static final int CONFIG_SEG_MAX = 12;
    static final int CONFIG_BLK_SIZE = 20;
    static final int CONFIG_MAX_WRITE_ZEROES_SECTORS = 48;
    static final int CONFIG_MAX_WRITE_ZEROES_SEG = 52;
    static final int CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;
    static final int CONFIG_BYTES = 60;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DiskImage disk;
    private final byte[] serial;
    private final MemorySegment config;
    /** Data moves through this one buffer for the device's whole life (see {@link BlockRequestHandler}). */
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BlockRequestHandler.CHUNK_BYTES);
    private final MemorySegment status = MemorySegment.ofArray(new byte[1]);
    private final PauseGate gate = new PauseGate();
    private final DeviceMeter meter = new DeviceMeter();
    /** Serves kicks off the vCPU; null: requests run on the kicking thread. */
    private final IoThread io;
    private DeviceContext context;
    private BlockRequestHandler handler;

    /**
     * A device over {@code disk}; it owns the image from now on and closes it in {@link #close}.
     *
     * @param serial the device ID (see {@link DiskConfig#serial()})
     */
    public VirtioBlock(DiskImage disk, String serial) {
        this(disk, serial, null);
    }

    /** As {@link #VirtioBlock(DiskImage, String)}, serving requests on I/O thread {@code ioThread} (e.g. {@code io-blk0}). */
    public VirtioBlock(DiskImage disk, String serial, String ioThread) {
        this.disk = disk;
        this.serial = DiskConfig.idBytes(serial);
        this.config = configSpace(disk.sectors());
        this.io = ioThread == null ? null : IoThread.start(ioThread, this::serveRound);
    }

    /**
     * Opens the image {@code config} names and builds the device over it, serving requests on the kicking thread.
     *
     * @throws IOException with a one-line message when the image cannot be used
     */
    public static VirtioBlock open(DiskConfig config) throws IOException {
        return new VirtioBlock(DiskImage.open(config), config.serial());
    }

    /**
     * Opens the image {@code config} names and builds the device over it, serving requests on I/O thread
     * {@code ioThread}.
     *
     * @throws IOException with a one-line message when the image cannot be used
     */
    public static VirtioBlock open(DiskConfig config, String ioThread) throws IOException {
        return new VirtioBlock(DiskImage.open(config), config.serial(), ioThread);
    }

    private static MemorySegment configSpace(long sectors) {
        MemorySegment space = MemorySegment.ofArray(new byte[CONFIG_BYTES]);
        space.set(LONG, CONFIG_CAPACITY, sectors);
        // A request takes a header and a status descriptor besides its data: without indirect descriptors
        // it must still fit the queue.
        space.set(INT, CONFIG_SEG_MAX, QUEUE_SIZE - 2);
        space.set(INT, CONFIG_BLK_SIZE, DiskImage.SECTOR_BYTES);
        space.set(INT, CONFIG_MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SECTORS);
        space.set(INT, CONFIG_MAX_WRITE_ZEROES_SEG, MAX_WRITE_ZEROES_SEGMENTS);
        space.set(ValueLayout.JAVA_BYTE, CONFIG_WRITE_ZEROES_MAY_UNMAP, (byte) 0);
        return space;
    }

    @Override
    public DeviceType type() {
        return DeviceType.BLOCK;
    }

    @Override
    public long features() {
        long features = F_SEG_MAX | F_BLK_SIZE | F_FLUSH;
        return disk.readOnly() ? features | F_RO : features | F_WRITE_ZEROES;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int maxQueueSize() {
        return QUEUE_SIZE;
    }

    @Override
    public void readConfig(long offset, MemorySegment data) {
        ConfigSpace.read(config, offset, data);
    }

    @Override
    public synchronized void activate(DeviceContext context) {
        this.context = context;
        this.handler = new BlockRequestHandler(disk, serial, buffer, context.negotiated(F_WRITE_ZEROES),
                MAX_WRITE_ZEROES_SECTORS, !context.negotiated(F_FLUSH));
    }

    /**
     * With an I/O thread: wakes it and returns at once. Without: carries out every available request before
     * returning, on the thread that kicked.
     */
    @Override
    public void queueNotified(int queueIndex) throws QueueException {
        if (io != null) {
            io.kick();
            return;
        }
        if (!gate.enter()) {
            return;
        }
        try {
            Signal.decideThenSend(this, this::serve);
        } finally {
            gate.exit();
        }
    }

    /** One round on the I/O thread: every available request, then the interrupt; a broken queue fails the device. */
    private void serveRound() {
        if (!gate.enter()) {
            return; // paused: the transport kicks again at resume
        }
        try {
            Signal.decideThenSend(this, this::serveOrFail);
        } finally {
            gate.exit();
        }
    }

    /** As {@link #serve}, turning a broken queue into the device's failure (no caller is there to take the exception). */
    private Signal serveOrFail() {
        try {
            return serve();
        } catch (QueueException | RuntimeException e) {
            DeviceContext failed = context;
            context = null; // touch the broken queue no more until the driver resets the device
            handler = null;
            String reason = e instanceof QueueException ? e.getMessage() : "internal error: " + e;
            return failed == null ? Signal.NONE : Signal.failure(failed, reason);
        }
    }

    private Signal serve() throws QueueException {
        Virtqueue queue = context == null ? null : context.queue(0);
        if (queue == null) {
            return Signal.NONE;
        }
        DescriptorChain chain;
        long started = System.nanoTime();
        try {
            while ((chain = queue.pop()) != null) {
                serveOne(queue, chain);
            }
            return queue.needsInterrupt() ? Signal.usedBuffers(context, 0) : Signal.NONE;
        } finally {
            meter.served(System.nanoTime() - started);
        }
    }

    private void serveOne(Virtqueue queue, DescriptorChain chain) throws QueueException {
        if (chain.writableBytes() == 0) {
            throw new QueueException("virtio-blk request " + chain.head() + " has no device-writable status byte");
        }
        BlockRequestHandler.Completion completion = handler.execute(chain, context.dma());
        count(completion);
        status.set(ValueLayout.JAVA_BYTE, 0, completion.status().code());
        try {
            chain.write(context.dma(), chain.writableBytes() - 1, status);
        } catch (DmaFault fault) {
            throw new QueueException("virtio-blk request " + chain.head() + " status byte: " + fault.getMessage(), fault);
        }
        queue.addUsed(chain.head(), (int) usedLength(chain, completion));
    }

    private void count(BlockRequestHandler.Completion completion) {
        if (completion.status() == BlockStatus.OK) {
            meter.completed(completion.movedBytes());
        } else {
            meter.failed();
        }
    }

    /**
     * The used length promises that the chain's writable bytes from the start up to it were written
     * (virtio 1.2, 2.7.8.2). The status byte is last, so it counts only when the data before it was
     * written in full; after a fault part-way only the bytes known to be written count.
     */
    private static long usedLength(DescriptorChain chain, BlockRequestHandler.Completion completion) {
        long data = completion.dataBytes();
        return data == chain.writableBytes() - 1 ? data + 1 : data;
    }

    @Override
    public synchronized void reset() {
        context = null;
        handler = null;
    }

    /** Returns once the request under way, if any, has completed (its interrupt sent). */
    @Override
    public void pause() {
        gate.pause();
    }

    @Override
    public void resume() {
        gate.resume();
    }

    @Override
    public DeviceCounters counters() {
        return meter.counters();
    }

    /** The image file, for the snapshot's record of which disk this was. */
    public Path path() {
        return disk.path();
    }

    public boolean readOnly() {
        return disk.readOnly();
    }

    /** The image file's size in bytes when it was opened. */
    public long imageBytes() {
        return disk.bytes();
    }

    /**
     * Only the capacity, to check against: requests complete before a pause returns, so the queues (the
     * transport's) hold all the rest.
     */
    @Override
    public void saveState(StateWriter out) {
        out.putLong("sectors", disk.sectors());
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        long sectors = in.getLong("sectors");
        if (sectors != disk.sectors()) {
            throw new SnapshotException("snapshot field " + in.path() + ".sectors is " + sectors + ", but " + disk.path()
                    + " has " + disk.sectors() + " sectors now");
        }
    }

    /** Flushes what the guest wrote (a guest that never flushed still loses nothing at a clean exit) and closes the image. */
    @Override
    public void close() {
        if (io != null) {
            io.close(); // outside the lock: its last round may need it
        }
        closeImage();
    }

    private synchronized void closeImage() {
        try {
            if (!disk.readOnly()) {
                disk.flush();
            }
        } catch (IOException e) {
            System.err.println("vmguard: virtio-blk " + disk.path() + ": flush at close failed: " + e.getMessage());
        }
        try {
            disk.close();
        } catch (IOException e) {
            System.err.println("vmguard: virtio-blk " + disk.path() + ": close failed: " + e.getMessage());
        }
    }
}
