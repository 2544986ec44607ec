package io.vmguard.virtio.net;

import io.vmguard.dma.DmaFault;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetBackend;
import io.vmguard.net.NetException;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.ConfigSpace;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * virtio-net (virtio 1.2 section 5.1) with one receive and one transmit queue, moving whole Ethernet
 * frames between the guest and a {@link NetBackend}. It offers a MAC address and link status, and no
 * offloads: every frame is complete and checksummed by the guest, so any backend can carry it as is.
 *
 * <p>Transmit runs on the vCPU thread when the driver kicks queue 1. Receive runs on a thread of its own
 * that waits for a frame from the backend and then for a guest buffer to put it in; frames wait in the
 * backend (a socket's or tap's queue) while the guest has no buffers, as on a wire with flow control.
 *
 * <p>Both threads touch the queues and the context under this object's lock, and interrupt or report a
 * failure only after releasing it ({@link VirtioDevice}'s lock rule). The receive thread waits for
 * frames outside the lock and for buffers in {@code wait}, which releases it; a transmit batch sends
 * under it, but a backend gives up on a frame the host cannot take within milliseconds. So a reset
 * waits at most for one frame's copy or one transmit batch.
 */
public final class VirtioNet implements VirtioDevice {
    static final int RECEIVE_QUEUE = 0;
    static final int TRANSMIT_QUEUE = 1;
    /** struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
    static final int HEADER_BYTES = 12;
    private static final int NUM_BUFFERS_OFFSET = 10;
    /** The largest frame either way: no GSO is offered, so this is a generous bound, not a real size. */
    static final int MAX_FRAME = 65535;
    private static final int MIN_FRAME = 14;

    static final long F_MAC = 1L << 5;
    static final long F_STATUS = 1L << 16;
    private static final int LINK_UP = 1;
    private static final long RECEIVE_POLL_MILLIS = 100;
    private static final Duration RECEIVE_POLL = Duration.ofMillis(RECEIVE_POLL_MILLIS);

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final NetBackend backend;
    /** mac[6], status (le16); max_virtqueue_pairs and mtu need features not offered. */
    private final MemorySegment config;
    private final Arena buffers = Arena.ofShared();
    private final MemorySegment transmitFrame = buffers.allocate(MAX_FRAME);
    private final MemorySegment receiveFrame = buffers.allocate(MAX_FRAME);
    private final MemorySegment receiveHeader = buffers.allocate(HEADER_BYTES);
    private final Thread receiver;
    /** Frames the device itself dropped: malformed transmits, receive buffers too small (the backend counts its own). */
    private final AtomicLong dropped = new AtomicLong();

    private final AtomicBoolean backendFailed = new AtomicBoolean();
    private DeviceContext context;
    private volatile boolean closed;

    public VirtioNet(NetBackend backend, MacAddress mac, String name) {
        this.backend = backend;
        receiveHeader.set(SHORT, NUM_BUFFERS_OFFSET, (short) 1);
        byte[] bytes = new byte[8];
        System.arraycopy(mac.bytes(), 0, bytes, 0, 6);
        bytes[6] = LINK_UP;
        this.config = MemorySegment.ofArray(bytes);
        this.receiver = Thread.ofPlatform().name(name + "-rx").daemon().start(this::receiveLoop);
    }

    @Override
    public DeviceType type() {
        return DeviceType.NET;
    }

    @Override
    public long features() {
        return F_MAC | F_STATUS;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    public long dropped() {
        return dropped.get();
    }

    @Override
    public void readConfig(long offset, MemorySegment data) {
        ConfigSpace.read(config, offset, data);
    }

    @Override
    public synchronized void activate(DeviceContext context) {
        this.context = context;
        notifyAll();
    }

    @Override
    public void queueNotified(int queueIndex) throws QueueException {
        if (queueIndex == TRANSMIT_QUEUE) {
            Signal.decideThenSend(this, this::transmit);
        } else if (queueIndex == RECEIVE_QUEUE) {
            synchronized (this) {
                notifyAll(); // the receive thread may be waiting for buffers
            }
        }
    }

    /** Sends every frame the driver made available; under the lock. */
    private Signal transmit() throws QueueException {
        Virtqueue queue = context == null ? null : context.queue(TRANSMIT_QUEUE);
        if (queue == null) {
            return Signal.NONE;
        }
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            long frameBytes = chain.readableBytes() - HEADER_BYTES;
            if (frameBytes < MIN_FRAME || frameBytes > MAX_FRAME) {
                dropped.incrementAndGet();
            } else {
                MemorySegment frame = transmitFrame.asSlice(0, frameBytes);
                try {
                    chain.read(context.dma(), HEADER_BYTES, frame);
                    backend.send(frame); // a frame the wire loses is counted by the backend
                } catch (DmaFault fault) {
                    throw new QueueException("transmit buffer: " + fault.getMessage(), fault);
                } catch (NetException e) {
                    dropped.incrementAndGet();
                    reportBackendFailure(e);
                }
            }
            queue.addUsed(chain.head(), 0);
        }
        return queue.needsInterrupt() ? Signal.usedBuffers(context, TRANSMIT_QUEUE) : Signal.NONE;
    }

    private void receiveLoop() {
        while (!closed) {
            int length;
            try {
                length = backend.receive(receiveFrame, RECEIVE_POLL);
            } catch (NetException e) {
                reportBackendFailure(e);
                return;
            }
            if (length == NetBackend.CLOSED) {
                return;
            }
            if (length > 0) {
                deliver(length);
            }
        }
    }

    /** Puts one received frame into the guest's next receive buffer, waiting for one if need be. */
    private void deliver(int length) {
        Signal.decideThenSend(this, () -> deliverLocked(length));
    }

    private Signal deliverLocked(int length) {
        DescriptorChain chain = null;
        Virtqueue queue = null;
        try {
            while (chain == null) {
                queue = context == null ? null : context.queue(RECEIVE_QUEUE);
                if (closed || queue == null) {
                    dropped.incrementAndGet(); // no driver to take it: the cable is unplugged
                    return Signal.NONE;
                }
                chain = queue.pop();
                if (chain == null) {
                    wait(RECEIVE_POLL_MILLIS);
                }
            }
            int written = 0;
            if (chain.writableBytes() < HEADER_BYTES + (long) length) {
                dropped.incrementAndGet(); // a driver that offers too small a buffer loses the frame
            } else {
                chain.write(context.dma(), 0, receiveHeader);
                chain.write(context.dma(), HEADER_BYTES, receiveFrame.asSlice(0, length));
                written = HEADER_BYTES + length;
            }
            queue.addUsed(chain.head(), written);
            return queue.needsInterrupt() ? Signal.usedBuffers(context, RECEIVE_QUEUE) : Signal.NONE;
        } catch (QueueException | DmaFault e) {
            DeviceContext failed = context;
            context = null; // touch the broken queue no more until the driver resets the device
            return Signal.failure(failed, "receive: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Signal.NONE;
        }
    }

    /** The host side failed for good (e.g. its TAP interface was deleted): say so once; the link stays dead. */
    private void reportBackendFailure(NetException e) {
        if (!closed && backendFailed.compareAndSet(false, true)) {
            System.err.println("vmguard: " + backend.description() + ": " + e.getMessage());
        }
    }

    @Override
    public synchronized void reset() {
        context = null;
        notifyAll();
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        backend.close();
        try {
            receiver.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!receiver.isAlive()) {
            buffers.close();
        }
    }
}
