package io.vmguard.virtio.net;

import io.vmguard.dma.DmaFault;
import io.vmguard.events.GuestLog;
import io.vmguard.net.FrameLatency;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetBackend;
import io.vmguard.net.NetCounters;
import io.vmguard.net.NetException;
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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * virtio-net (virtio 1.2 section 5.1) with one receive and one transmit queue, moving whole Ethernet
 * frames between the guest and a {@link NetBackend}. It offers a MAC address and link status and, unless
 * made without, the offloads Firecracker and Cloud Hypervisor offer on tap: checksum completion (CSUM), TCP
 * segmentation (HOST_TSO4/TSO6, HOST_ECN) and received checksums verified (GUEST_CSUM). The backend still
 * carries plain, complete Ethernet frames (a socket peer may be QEMU's {@code -netdev dgram}): the device
 * completes checksums and cuts TSO frames into MSS-sized segments itself ({@link TransmitOffload}), and
 * marks a received TCP/UDP frame DATA_VALID only after verifying its checksum. Without offloads every
 * frame is complete and checksummed by the guest.
 *
 * <p>Transmit runs on an I/O thread of its own when the device has one (the VMM gives it {@code net-tx0},
 * ...): the driver's kick wakes it and the vCPU goes back to the guest, so a backend that makes a frame
 * wait (a peer whose queue is full, for up to milliseconds) stalls the transmit queue, never the guest.
 * Without one, transmit runs on the kicking thread. Receive runs on a thread of its own ({@code net-rx0})
 * that waits for a frame from the backend (poll(2): it wakes on the frame, the timeout only bounds how long
 * a close or pause takes to be seen) and then for a guest buffer to put it in, woken by the driver's
 * kick; frames wait in the backend (a socket's or tap's queue) while the guest has no buffers, as on a
 * wire with flow control.
 *
 * <p>Both threads touch the queues and the context under this object's lock, and interrupt or report a
 * failure only after releasing it ({@link VirtioDevice}'s lock rule). The receive thread waits for
 * frames outside the lock and for buffers in {@code wait}, which releases it. Transmit copies a frame
 * out of the guest and returns its buffer under the lock, and hands the copy to the backend after
 * releasing it (one transmit at a time, under a lock of its own), so neither a reset nor the receive
 * thread waits for the wire. So a reset waits at most for one frame's copy.
 *
 * <p>Pause: the receive thread stops taking frames from the backend (they wait in the host's socket or
 * tap queue, which the host bounds and beyond which it drops, as a wire would), and a frame it had already
 * taken is held, not written to the guest, until resume; it is part of the snapshot. A transmit round
 * stops at the next frame once pause begins, and pause waits for the frame under way (its buffer already
 * returned, its copy handed to the backend); the rest is sent after resume, whose kick starts a new round. The MAC address is the snapshot's on restore, unless the VMM set
 * another with {@link #useMacOnRestore} (a clone must not share its parent's address).
 */
public final class VirtioNet implements VirtioDevice {
    static final int RECEIVE_QUEUE = 0;
    static final int TRANSMIT_QUEUE = 1;
    /** struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
    static final int HEADER_BYTES = 12;
    private static final int NUM_BUFFERS_OFFSET = 10;
    /** The largest frame received, and transmitted without offloads: a generous bound, not a real size. */
    static final int MAX_FRAME = 65535;
    /** The largest frame transmitted with TSO: Linux's GSO limit (64 KiB with the Ethernet header) and room for a VLAN tag. */
    static final int MAX_GSO_FRAME = 65536 + 4;
    private static final int MIN_FRAME = 14;

    static final long F_CSUM = 1L << 0;
    static final long F_GUEST_CSUM = 1L << 1;
    static final long F_MAC = 1L << 5;
    static final long F_HOST_TSO4 = 1L << 11;
    static final long F_HOST_TSO6 = 1L << 12;
    static final long F_HOST_ECN = 1L << 13;
    /** The offloads a card offers unless made without (VMGUARD_NET_OFFLOAD=off): what Firecracker and Cloud Hypervisor offer on tap. */
    static final long OFFLOADS = F_CSUM | F_GUEST_CSUM | F_HOST_TSO4 | F_HOST_TSO6 | F_HOST_ECN;
    static final long F_STATUS = 1L << 16;
    private static final int LINK_UP = 1;
    /** Offset of the le16 status field in the configuration space, after the MAC. */
    private static final int STATUS_OFFSET = 6;
    private static final long RECEIVE_POLL_MILLIS = 100;
    private static final Duration RECEIVE_POLL = Duration.ofMillis(RECEIVE_POLL_MILLIS);

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final NetBackend backend;
    /** mac[6], status (le16); max_virtqueue_pairs and mtu need features not offered. */
    private final MemorySegment config;
    private final Arena buffers = Arena.ofShared();
    private final MemorySegment transmitFrame = buffers.allocate(MAX_GSO_FRAME);
    private final MemorySegment transmitHeader = buffers.allocate(HEADER_BYTES);
    /** Where segmentation builds each segment: headers plus one MSS, at most a whole frame. */
    private final MemorySegment segmentFrame = buffers.allocate(MAX_FRAME);
    /** Whether this card offers {@link #OFFLOADS}. */
    private final boolean offloads;
    /** Where the receive thread lands frames from the backend; only it touches this, outside the lock. */
    private final MemorySegment receiveFrame = buffers.allocate(MAX_FRAME);
    /** The frame taken from the backend and not yet in the guest's memory: {@code heldLength} bytes, under the lock. */
    private final MemorySegment heldFrame = buffers.allocate(MAX_FRAME);
    private final MemorySegment receiveHeader = buffers.allocate(HEADER_BYTES);
    private final Thread receiver;
    /** Serves transmit kicks off the vCPU; null: transmit runs on the kicking thread. */
    private final IoThread transmitter;
    /** Held across a transmit round: one at a time uses {@link #transmitFrame}, outside the device's lock. */
    private final Object transmitLock = new Object();
    /** When the oldest kick the transmit thread has not yet started serving came (0: none). */
    private final AtomicLong unservedKick = new AtomicLong();
    /** Frames the device itself dropped: malformed transmits, receive buffers too small (the backend counts its own). */
    private final AtomicLong dropped = new AtomicLong();
    private final PauseGate gate = new PauseGate();
    private final DeviceMeter meter = new DeviceMeter();
    /** Time from a frame's arrival to the guest, and from a kick to the wire (issue 17). */
    private final FrameLatency latency = new FrameLatency();

    private final AtomicBoolean backendFailed = new AtomicBoolean();
    private DeviceContext context;
    private int heldLength;
    /** When the held frame came from the backend ({@link FrameLatency#arrived}); 0 for one restored from a snapshot. */
    private long heldSince;
    /** The MAC a restore keeps instead of the snapshot's; null to take the snapshot's. */
    private MacAddress restoreMac;
    private volatile boolean closed;

    /** A card without offloads whose receive thread is {@code name-rx} and which transmits on the kicking thread. */
    public VirtioNet(NetBackend backend, MacAddress mac, String name) {
        this(backend, mac, name + "-rx", null);
    }

    /** As {@link #VirtioNet(NetBackend, MacAddress, String, String, boolean)}, without offloads. */
    public VirtioNet(NetBackend backend, MacAddress mac, String receiveThread, String transmitThread) {
        this(backend, mac, receiveThread, transmitThread, false);
    }

    /**
     * A card whose receive thread is {@code receiveThread} (e.g. {@code net-rx0}) and which transmits on I/O
     * thread {@code transmitThread} ({@code net-tx0}), or on the kicking thread when that is null; offering
     * checksum and TCP segmentation offloads when {@code offloads}.
     */
    public VirtioNet(NetBackend backend, MacAddress mac, String receiveThread, String transmitThread, boolean offloads) {
        this.backend = backend;
        this.offloads = offloads;
        receiveHeader.set(SHORT, NUM_BUFFERS_OFFSET, (short) 1);
        byte[] bytes = new byte[8];
        System.arraycopy(mac.bytes(), 0, bytes, 0, 6);
        bytes[STATUS_OFFSET] = LINK_UP;
        this.config = MemorySegment.ofArray(bytes);
        this.transmitter = transmitThread == null ? null : IoThread.start(transmitThread, this::transmitOnIoThread);
        this.receiver = Thread.ofPlatform().name(receiveThread).daemon().start(this::receiveLoop);
    }

    @Override
    public DeviceType type() {
        return DeviceType.NET;
    }

    @Override
    public long features() {
        return F_MAC | F_STATUS | (offloads ? OFFLOADS : 0);
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
            long kickedAt = latency.kicked();
            if (transmitter != null) {
                unservedKick.compareAndSet(0, kickedAt); // the oldest kick no round has served yet
                transmitter.kick();
                return;
            }
            if (!gate.enter()) {
                return;
            }
            try {
                transmitRound(kickedAt);
            } finally {
                gate.exit();
            }
        } else if (queueIndex == RECEIVE_QUEUE) {
            synchronized (this) {
                notifyAll(); // the receive thread may be waiting for buffers
            }
        }
    }

    /** A transmit round on the I/O thread; a broken queue fails the device (no caller is there to take the exception). */
    private void transmitOnIoThread() {
        if (!gate.enter()) {
            return; // paused: the transport kicks again at resume
        }
        try {
            transmitRound(unservedKick.getAndSet(0));
        } catch (QueueException | RuntimeException e) {
            Signal failure;
            synchronized (this) {
                DeviceContext failed = context;
                context = null; // touch the broken queue no more until the driver resets the device
                String reason = "transmit: " + (e instanceof QueueException ? e.getMessage() : "internal error: " + e);
                failure = failed == null ? Signal.NONE : Signal.failure(failed, reason);
            }
            failure.send();
        } finally {
            gate.exit();
        }
    }

    /**
     * Sends every frame the driver made available, one at a time: copied out and returned under the lock,
     * sent after it. Stops early when a pause begins (resume kicks again). With EVENT_IDX the interrupt is
     * decided after each frame, so a driver waiting for room in a full ring hears of it at the point it
     * asked for; without, once at the end of the round. {@code kickedAt}: the stamp of the kick the round
     * serves (0: none, as at resume), for the kick-to-wire figure.
     */
    private void transmitRound(long kickedAt) throws QueueException {
        synchronized (transmitLock) {
            boolean more = true;
            while (more && !gate.closed()) {
                long frameBytes;
                long negotiated;
                Signal signal;
                long started = System.nanoTime();
                synchronized (this) {
                    Virtqueue queue = context == null ? null : context.queue(TRANSMIT_QUEUE);
                    DescriptorChain chain = queue == null ? null : queue.pop();
                    more = chain != null;
                    frameBytes = more ? copyOut(chain) : -1;
                    negotiated = context == null ? 0 : context.features();
                    if (more) {
                        queue.addUsed(chain.head(), 0);
                    }
                    boolean decide = queue != null && (!more || queue.eventIdx());
                    signal = decide && queue.needsInterrupt() ? Signal.usedBuffers(context, TRANSMIT_QUEUE) : Signal.NONE;
                    if (signal != Signal.NONE) {
                        latency.transmitInterrupt();
                    }
                }
                signal.send();
                if (frameBytes > 0) {
                    try {
                        if (send((int) frameBytes, negotiated)) {
                            meter.completed(frameBytes);
                            if (kickedAt != 0) {
                                latency.sent(kickedAt);
                            }
                        }
                    } catch (NetException e) {
                        drop();
                        reportBackendFailure(e);
                    }
                }
                meter.served(System.nanoTime() - started);
            }
        }
    }

    /**
     * Hands the frame in {@link #transmitFrame} (its header in {@link #transmitHeader}) to the backend, doing
     * the offloads the header asks for; false when the header was a lie and the frame is dropped. A frame the
     * wire loses is counted by the backend. Under the transmit lock.
     */
    private boolean send(int frameBytes, long negotiated) throws NetException {
        TransmitOffload.Header header = TransmitOffload.Header.read(transmitHeader);
        if (header.plain()) {
            backend.send(transmitFrame.asSlice(0, frameBytes));
            return true;
        }
        if (TransmitOffload.transmit(transmitFrame, frameBytes, header, negotiated, segmentFrame, backend::send)
                instanceof TransmitOffload.Outcome.Dropped(String reason)) {
            drop();
            GuestLog.warn("virtio-net.transmit-header", "virtio-net (" + backend.description() + "): dropped a frame: " + reason);
            return false;
        }
        return true;
    }

    /** Copies the frame in {@code chain} into {@link #transmitFrame}; returns its length, or 0 for a malformed one (dropped). Under both locks. */
    private long copyOut(DescriptorChain chain) throws QueueException {
        long frameBytes = chain.readableBytes() - HEADER_BYTES;
        if (frameBytes < MIN_FRAME || frameBytes > (offloads ? MAX_GSO_FRAME : MAX_FRAME)) {
            drop();
            return 0;
        }
        try {
            chain.read(context.dma(), 0, transmitHeader);
            chain.read(context.dma(), HEADER_BYTES, transmitFrame.asSlice(0, frameBytes));
        } catch (DmaFault fault) {
            meter.failed();
            throw new QueueException("transmit buffer: " + fault.getMessage(), fault);
        }
        return frameBytes;
    }

    private void drop() {
        dropped.incrementAndGet();
        meter.failed();
    }

    /**
     * Takes one frame at a time from the backend and hands it to the guest. While paused it takes none,
     * and a frame it already took stays held until resume.
     */
    private void receiveLoop() {
        try {
            while (!closed) {
                if (!gate.awaitOpen(RECEIVE_POLL)) {
                    continue; // paused: frames wait in the backend
                }
                if (!holding()) {
                    int length = backend.receive(receiveFrame, RECEIVE_POLL);
                    if (length == NetBackend.CLOSED) {
                        return;
                    }
                    if (length == 0) {
                        continue;
                    }
                    hold(length);
                }
                deliverHeld();
            }
        } catch (NetException e) {
            reportBackendFailure(e);
        } catch (InterruptedException e) {
            // closing
        }
    }

    private synchronized boolean holding() {
        return heldLength > 0;
    }

    /**
     * The frame just received becomes the held one. A restore may have put the snapshot's held frame there
     * while this one was on its way in (a freshly built card receives before it is restored): the
     * snapshot's goes first, and this one is lost as a frame to an unplugged card is.
     */
    private synchronized void hold(int length) {
        if (heldLength > 0) {
            drop();
            return;
        }
        MemorySegment.copy(receiveFrame, 0, heldFrame, 0, length);
        heldLength = length;
        heldSince = latency.arrived();
    }

    /** Puts the held frame into the guest's next receive buffer, waiting for one if need be; nothing while paused. */
    private void deliverHeld() throws InterruptedException {
        if (!gate.enter()) {
            return;
        }
        try {
            Signal.decideThenSend(this, this::deliverLocked);
        } finally {
            gate.exit();
        }
    }

    private Signal deliverLocked() throws InterruptedException {
        DescriptorChain chain = null;
        Virtqueue queue = null;
        try {
            while (chain == null) {
                if (heldLength == 0 || gate.closed()) {
                    return Signal.NONE; // pausing: the frame stays held, for resume or the snapshot
                }
                queue = context == null ? null : context.queue(RECEIVE_QUEUE);
                if (closed || queue == null) {
                    heldLength = 0;
                    drop(); // no driver to take it: the cable is unplugged
                    return Signal.NONE;
                }
                chain = queue.pop();
                if (chain == null) {
                    wait(RECEIVE_POLL_MILLIS);
                }
            }
            long started = System.nanoTime();
            int length = heldLength;
            heldLength = 0;
            int written = 0;
            if (chain.writableBytes() < HEADER_BYTES + (long) length) {
                drop(); // a driver that offers too small a buffer loses the frame
            } else {
                boolean verified = context.negotiated(F_GUEST_CSUM)
                        && io.vmguard.net.PacketLayers.parse(heldFrame, length).map(p -> p.checksumValid(heldFrame)).orElse(false);
                receiveHeader.set(ValueLayout.JAVA_BYTE, 0, (byte) (verified ? TransmitOffload.F_DATA_VALID : 0));
                chain.write(context.dma(), 0, receiveHeader);
                chain.write(context.dma(), HEADER_BYTES, heldFrame.asSlice(0, length));
                written = HEADER_BYTES + length;
                meter.completed(length);
            }
            queue.addUsed(chain.head(), written);
            meter.served(System.nanoTime() - started);
            boolean interrupt = queue.needsInterrupt();
            latency.delivered(heldSince, interrupt);
            heldSince = 0;
            return interrupt ? Signal.usedBuffers(context, RECEIVE_QUEUE) : Signal.NONE;
        } catch (QueueException | DmaFault e) {
            heldLength = 0;
            meter.failed();
            DeviceContext failed = context;
            context = null; // touch the broken queue no more until the driver resets the device
            return Signal.failure(failed, "receive: " + e.getMessage());
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

    /**
     * Returns once no frame is being written to the guest and no interrupt is on its way; the receive thread
     * then waits, holding at most the one frame it had taken.
     */
    @Override
    public void pause() {
        gate.shut();
        synchronized (this) {
            notifyAll(); // a delivery waiting for receive buffers gives up, keeping its frame
        }
        gate.awaitIdle();
    }

    @Override
    public void resume() {
        gate.resume();
    }

    /** What the backend has carried: frames, drops, and the frames that waited for room at the peer. */
    public NetCounters backendCounters() {
        return backend.counters();
    }

    /** vmguard's own latency figures for this card: arrival to guest, kick to wire, notifications, interrupts. */
    public FrameLatency latency() {
        return latency;
    }

    @Override
    public DeviceCounters counters() {
        return meter.counters();
    }

    /** For a clone: a restore keeps {@code mac} instead of taking the snapshot's. */
    public synchronized void useMacOnRestore(MacAddress mac) {
        restoreMac = mac;
    }

    /** The address the guest reads in the configuration space. */
    public synchronized MacAddress mac() {
        return new MacAddress(config.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE));
    }

    /** The MAC, the link status and a frame taken from the backend but not yet delivered (empty when none). */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putBytes("mac", config.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE))
                .putInt("linkStatus", config.get(SHORT, STATUS_OFFSET) & 0xffff)
                .putBytes("heldFrame", heldFrame.asSlice(0, heldLength).toArray(ValueLayout.JAVA_BYTE));
    }

    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        MacAddress saved;
        try {
            saved = new MacAddress(in.getBytes("mac", 6));
        } catch (IllegalArgumentException e) {
            throw new SnapshotException("snapshot field " + field(in, "mac") + ": " + e.getMessage());
        }
        int linkStatus = in.getInt("linkStatus", 0, LINK_UP);
        byte[] frame = in.getBytes("heldFrame");
        if (frame.length != 0 && (frame.length < MIN_FRAME || frame.length > MAX_FRAME)) {
            throw new SnapshotException("snapshot field " + field(in, "heldFrame") + " has " + frame.length
                    + " bytes, not an Ethernet frame of " + MIN_FRAME + ".." + MAX_FRAME);
        }
        MacAddress mac = restoreMac != null ? restoreMac : saved;
        MemorySegment.copy(mac.bytes(), 0, config, ValueLayout.JAVA_BYTE, 0, 6);
        config.set(SHORT, STATUS_OFFSET, (short) linkStatus);
        MemorySegment.copy(frame, 0, heldFrame, ValueLayout.JAVA_BYTE, 0, frame.length);
        heldLength = frame.length;
        heldSince = 0;
    }

    private static String field(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }

    @Override
    public void close() {
        closed = true;
        if (transmitter != null) {
            transmitter.close();
        }
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
