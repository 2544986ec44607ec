package io.vmguard.iommu;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.ConfigSpace;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.DeviceMeter;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.PauseGate;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.LongAdder;

/**
 * virtio-iommu (virtio 1.2, section 5.13), device type 23: the guest's driver attaches endpoints to
 * domains and maps IOVAs in them through the request queue (0); the device enforces that on every DMA of
 * every endpoint ({@link IommuDmaSpace}) and reports refused accesses on the event queue (1) and to the VMM.
 *
 * <p>Use: build it, {@link #dmaSpace} for each device behind it (its PCI BDF is its endpoint ID, as the
 * ACPI VIOT says), hand that space to the device's transport, and put this device on virtio-pci with a
 * plain guest-memory space (the IOMMU does not translate itself). Faults go to the {@link FaultSink} given
 * here, after the event queue has had them; {@link IommuFault#details} are the security event's fields.
 *
 * <p>Requests complete inside the notification: Linux waits for them spinning with interrupts off. Bypass is
 * off: an endpoint the driver never attached gets no DMA (BYPASS_CONFIG is offered, its byte reads 0, and
 * Linux never writes it).
 *
 * <p>Locks, in order: the transport's, this object's (queues, context), the state's write lock (a leaf,
 * {@link IommuDomains}). Devices fault holding their own lock and then take this one; this object never
 * waits for theirs. Interrupts and failures are sent after this lock is released (the lock rule).
 */
public final class VirtioIommu implements VirtioDevice {
    public static final int REQUEST_QUEUE = 0;
    public static final int EVENT_QUEUE = 1;
    /** struct virtio_iommu_config. */
    static final int CONFIG_BYTES = 40;
    static final int CONFIG_BYPASS = 36;
    private static final ValueLayout.OfLong LONG = RequestCodec.LONG;
    private static final ValueLayout.OfInt INT = RequestCodec.INT;

    private final IommuDomains domains;
    private final RequestHandler handler;
    private final FaultSink securityEvents;
    private final PauseGate gate = new PauseGate();
    private final DeviceMeter meter = new DeviceMeter();
    private final LongAdder faultsPosted = new LongAdder();
    private final LongAdder faultsDropped = new LongAdder();
    private DeviceContext context;

    /**
     * @param securityEvents told of every refused access (posted on the event queue or not), on the faulting
     *                       device's thread; the VMM turns them into {@code source: "iommu"} events
     */
    public VirtioIommu(IommuConfig config, FaultSink securityEvents) {
        this.domains = new IommuDomains(config);
        this.handler = new RequestHandler(domains);
        this.securityEvents = securityEvents;
    }

    public VirtioIommu(FaultSink securityEvents) {
        this(IommuConfig.DEFAULT, securityEvents);
    }

    /** The translation state (for tests and the VMM's views). */
    public IommuDomains domains() {
        return domains;
    }

    /** Puts endpoint {@code endpoint} (a PCI BDF) behind the IOMMU without a DMA space (e.g. a future device). */
    public void addEndpoint(int endpoint) {
        domains.addEndpoint(endpoint);
    }

    /**
     * Puts {@code endpoint} behind the IOMMU and returns its door to memory: {@code guestMemory} (guest-physical
     * addresses, the identity space) reached through the endpoint's translation.
     *
     * @param device the device's name in fault reports
     */
    public IommuDmaSpace dmaSpace(int endpoint, String device, DmaSpace guestMemory) {
        domains.addEndpoint(endpoint);
        return new IommuDmaSpace(domains, endpoint, device, guestMemory, this::fault);
    }

    @Override
    public DeviceType type() {
        return DeviceType.IOMMU;
    }

    @Override
    public long features() {
        return IommuFeatures.OFFERED;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    /** page_size_mask, input_range, domain_range, probe_size, bypass (virtio 1.2, 5.13.4). */
    @Override
    public void readConfig(long offset, MemorySegment data) {
        IommuConfig config = domains.config();
        MemorySegment space = MemorySegment.ofArray(new byte[CONFIG_BYTES]);
        space.set(LONG, 0, IommuConfig.PAGE_SIZE_MASK);
        space.set(LONG, 8, config.inputStart());
        space.set(LONG, 16, config.inputEnd());
        space.set(INT, 24, config.domainStart());
        space.set(INT, 28, config.domainEnd());
        space.set(INT, 32, RequestHandler.PROBE_SIZE);
        space.set(ValueLayout.JAVA_BYTE, CONFIG_BYPASS, (byte) (domains.bypass() ? 1 : 0));
        ConfigSpace.read(space, offset, data);
    }

    /**
     * Only the bypass byte is writable, one byte of 0 or 1; anything else is ignored, so it never reads as
     * another value (matrix row 43). It matters only once BYPASS_CONFIG is agreed.
     */
    @Override
    public void writeConfig(long offset, MemorySegment data) {
        if (offset == CONFIG_BYPASS && data.byteSize() == 1) {
            int value = Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, 0));
            if (value <= 1) {
                domains.bypass(value == 1);
            }
        }
    }

    @Override
    public synchronized void activate(DeviceContext context) {
        this.context = context;
        domains.negotiated(context.features());
    }

    @Override
    public void queueNotified(int queueIndex) throws QueueException {
        if (queueIndex != REQUEST_QUEUE || !gate.enter()) {
            return; // event buffers wait for a fault; a kick while paused is repeated at resume
        }
        try {
            Signal.decideThenSend(this, this::serveRequests);
        } finally {
            gate.exit();
        }
    }

    /** Every request waiting, each completed before the next is read; under the lock. */
    private Signal serveRequests() throws QueueException {
        Virtqueue queue = context == null ? null : context.queue(REQUEST_QUEUE);
        if (queue == null) {
            return Signal.NONE;
        }
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            RequestHandler.Served served = handler.serve(chain, context.dma(), context.features());
            queue.addUsed(chain.head(), served.usedLength());
            if (served.status() == Status.OK) {
                meter.completed(0);
            } else {
                meter.failed();
            }
        }
        return queue.needsInterrupt() ? Signal.usedBuffers(context, REQUEST_QUEUE) : Signal.NONE;
    }

    /**
     * A device's access was refused: posted on the event queue when the driver left a buffer there (else
     * dropped and counted; a fault never waits for the guest), then handed to the VMM.
     */
    private void fault(IommuFault fault) {
        boolean posted = false;
        if (gate.enter()) {
            try {
                Signal signal;
                synchronized (this) {
                    Posting posting = post(fault);
                    posted = posting.posted();
                    signal = posting.signal();
                }
                signal.send();
            } finally {
                gate.exit();
            }
        }
        (posted ? faultsPosted : faultsDropped).increment();
        securityEvents.fault(fault);
    }

    private record Posting(boolean posted, Signal signal) {}

    /** Under the lock. */
    private Posting post(IommuFault fault) {
        Virtqueue queue = context == null ? null : context.queue(EVENT_QUEUE);
        if (queue == null) {
            return new Posting(false, Signal.NONE);
        }
        try {
            DescriptorChain chain = queue.pop();
            if (chain == null) {
                return new Posting(false, Signal.NONE);
            }
            boolean posted = false;
            if (chain.writableBytes() >= RequestCodec.FAULT_BYTES) {
                try {
                    chain.write(context.dma(), 0, RequestCodec.encodeFault(fault));
                    posted = true;
                } catch (DmaFault unreachable) {
                    // The driver's buffer is not in memory: the event is lost, the buffer returned empty.
                }
            }
            // A buffer too small for an event is returned empty and the event dropped (matrix row 48).
            queue.addUsed(chain.head(), posted ? RequestCodec.FAULT_BYTES : 0);
            return new Posting(posted, queue.needsInterrupt() ? Signal.usedBuffers(context, EVENT_QUEUE) : Signal.NONE);
        } catch (QueueException broken) {
            return new Posting(false, Signal.failure(context, "event queue: " + broken.getMessage()));
        }
    }

    /** Faults posted on the event queue so far. */
    public long faultsPosted() {
        return faultsPosted.sum();
    }

    /** Faults that found no event buffer (or a bad one) and were only reported to the VMM. */
    public long faultsDropped() {
        return faultsDropped.sum();
    }

    /** Forgets the queues and every domain: after a reset no endpoint is attached, so none has DMA. */
    @Override
    public synchronized void reset() {
        context = null;
        domains.reset();
    }

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

    /** Domains, attachments, mappings and the bypass byte; the endpoints are the VMM's and rebuilt with it. */
    @Override
    public void saveState(StateWriter out) {
        IommuSnapshot.save(domains, out);
    }

    /** After the transport re-activated the device (which set the negotiated features). */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        IommuSnapshot.restore(domains, in);
    }
}
