package io.vmguard.iommu;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioFeatures;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A virtio-iommu driven the way its driver drives it, without a transport: guest RAM, the request and event
 * rings, request builders with the wire layout of virtio 1.2 5.13.6, and the faults the VMM was told of.
 */
final class IommuHarness {
    static final long ALL_FEATURES = VirtioFeatures.VERSION_1 | IommuFeatures.OFFERED;
    static final int PROBE_REPLY = RequestHandler.PROBE_SIZE + 4;

    final GuestRam ram = new GuestRam(16 << 20);
    final RecordingInterrupt interrupt = new RecordingInterrupt();
    final List<IommuFault> reported = new CopyOnWriteArrayList<>();
    final VirtioIommu iommu;
    final DriverRings requests = new DriverRings(ram, 64);
    final DriverRings events = new DriverRings(ram, 16);

    /** One completed request: the used length and the writable bytes as the device left them. */
    record Reply(int usedLength, byte[] written) {
        /** The tail's status byte (the last four writable bytes). */
        int status() {
            return Byte.toUnsignedInt(written[written.length - 4]);
        }

        boolean is(Status status) {
            return usedLength > 0 && status() == status.code();
        }
    }

    IommuHarness() {
        this(IommuConfig.DEFAULT, ALL_FEATURES);
    }

    IommuHarness(IommuConfig config, long features) {
        iommu = new VirtioIommu(config, reported::add);
        try {
            iommu.activate(interrupt.context(features, ram.dma(), requests.deviceQueue(ram.dma(), features),
                    events.deviceQueue(ram.dma(), features)));
        } catch (QueueException e) {
            throw new AssertionError(e);
        }
    }

    /** An endpoint's DMA space over this RAM. */
    IommuDmaSpace endpoint(int id) {
        return iommu.dmaSpace(id, "test device " + id, ram.dma());
    }

    /** Sends {@code readable} with {@code writable} bytes for the reply (pre-filled with 0xee) and kicks. */
    Reply send(byte[] readable, int writable) {
        long in = ram.put(readable);
        byte[] filler = new byte[writable];
        java.util.Arrays.fill(filler, (byte) 0xee);
        long out = ram.put(filler);
        requests.offer(DriverRings.Buffer.readable(in, readable.length), DriverRings.Buffer.writable(out, writable));
        return kickAndTake(out, writable);
    }

    Reply kickAndTake(long out, int writable) {
        try {
            iommu.queueNotified(VirtioIommu.REQUEST_QUEUE);
        } catch (QueueException e) {
            throw new AssertionError(e);
        }
        List<DriverRings.Used> used = requests.takeUsed();
        if (used.size() != 1) {
            throw new AssertionError("expected one completed request, got " + used);
        }
        return new Reply(used.getFirst().length(), ram.read(out, writable));
    }

    Reply request(byte[] readable) {
        return send(readable, 4);
    }

    Status status(byte[] readable) {
        Reply reply = request(readable);
        if (reply.usedLength() != 4) {
            throw new AssertionError("no reply, used length " + reply.usedLength());
        }
        for (Status status : Status.values()) {
            if (status.code() == reply.status()) {
                return status;
            }
        }
        throw new AssertionError("status " + reply.status());
    }

    Status attach(int domain, int endpoint) {
        return status(attachBytes(domain, endpoint, 0, 0));
    }

    Status detach(int domain, int endpoint) {
        return status(detachBytes(domain, endpoint, 0));
    }

    Status map(int domain, long virtStart, long virtEnd, long physStart, int flags) {
        return status(mapBytes(domain, virtStart, virtEnd, physStart, flags));
    }

    Status unmap(int domain, long virtStart, long virtEnd) {
        return status(unmapBytes(domain, virtStart, virtEnd, 0));
    }

    /** Offers an event buffer of {@code bytes}; returns its address. */
    long offerEvent(int bytes) {
        long buffer = ram.alloc(bytes);
        events.offer(DriverRings.Buffer.writable(buffer, bytes));
        return buffer;
    }

    // ---- wire layouts ----

    static ByteBuffer head(int type, int bodyBytes) {
        ByteBuffer buffer = ByteBuffer.allocate(4 + bodyBytes).order(ByteOrder.LITTLE_ENDIAN);
        buffer.put((byte) type).put(new byte[3]);
        return buffer;
    }

    static byte[] attachBytes(int domain, int endpoint, int flags, int reserved) {
        return head(IommuRequest.ATTACH, 16).putInt(domain).putInt(endpoint).putInt(flags).putInt(reserved).array();
    }

    static byte[] detachBytes(int domain, int endpoint, long reserved) {
        return head(IommuRequest.DETACH, 16).putInt(domain).putInt(endpoint).putLong(reserved).array();
    }

    static byte[] mapBytes(int domain, long virtStart, long virtEnd, long physStart, int flags) {
        return head(IommuRequest.MAP, 32).putInt(domain).putLong(virtStart).putLong(virtEnd).putLong(physStart).putInt(flags).array();
    }

    static byte[] unmapBytes(int domain, long virtStart, long virtEnd, int reserved) {
        return head(IommuRequest.UNMAP, 24).putInt(domain).putLong(virtStart).putLong(virtEnd).putInt(reserved).array();
    }

    static byte[] probeBytes(int endpoint) {
        return head(IommuRequest.PROBE, 68).putInt(endpoint).put(new byte[64]).array();
    }

    static long longAt(byte[] bytes, int offset) {
        return MemorySegment.ofArray(bytes).get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), offset);
    }

    static int intAt(byte[] bytes, int offset) {
        return MemorySegment.ofArray(bytes).get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), offset);
    }

    static int shortAt(byte[] bytes, int offset) {
        return MemorySegment.ofArray(bytes).get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), offset) & 0xffff;
    }
}
