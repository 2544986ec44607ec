package io.vmguard.iommu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Decodes the device-readable part of a request (virtio_iommu_req_head then the type's fields; the
 * device-writable tail is not here) and encodes what goes back: the tail, PROBE properties and fault events.
 * Total functions: any bytes decode to a request, a malformed one, or an unknown type; nothing throws.
 */
public final class RequestCodec {
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static final int HEAD_BYTES = 4;
    public static final int TAIL_BYTES = 4;
    /** The longest body of any type (PROBE: endpoint and 64 reserved bytes); longer bodies are read this far. */
    public static final int MAX_BODY_BYTES = 68;
    /** virtio_iommu_fault. */
    public static final int FAULT_BYTES = 24;
    /** virtio_iommu_probe_resv_mem: a 4-byte property header and 20 bytes. */
    public static final int RESV_MEM_BYTES = 24;
    static final int PROPERTY_RESV_MEM = 1;
    static final int RESV_MEM_MSI = 1;
    static final int FAULT_F_READ = 1;
    static final int FAULT_F_WRITE = 2;
    static final int FAULT_F_ADDRESS = 0x100;

    /** What the readable bytes say. */
    public sealed interface Decoded {}

    /** A request of a known type with its whole body. */
    public record Parsed(IommuRequest request) implements Decoded {}

    /** A known type whose body is shorter than its struct: the device answers S_INVAL. */
    public record Truncated(int type) implements Decoded {}

    /** A type the spec does not define: the device SHOULD NOT write anything (used length 0). */
    public record Unknown(int type) implements Decoded {}

    private RequestCodec() {}

    /** The body length of {@code type}, or -1 for an unknown type. */
    static int bodyBytes(int type) {
        return switch (type) {
            case IommuRequest.ATTACH, IommuRequest.DETACH -> 16;
            case IommuRequest.MAP -> 32;
            case IommuRequest.UNMAP -> 24;
            case IommuRequest.PROBE -> 68;
            default -> -1;
        };
    }

    /**
     * Decodes {@code readable}, the head and as much of the body as the chain has (at least the head). The
     * head's reserved bytes are ignored, as the spec requires.
     */
    public static Decoded decode(MemorySegment readable) {
        int type = Byte.toUnsignedInt(readable.get(ValueLayout.JAVA_BYTE, 0));
        int needed = bodyBytes(type);
        if (needed < 0) {
            return new Unknown(type);
        }
        if (readable.byteSize() - HEAD_BYTES < needed) {
            return new Truncated(type);
        }
        MemorySegment body = readable.asSlice(HEAD_BYTES, needed);
        return new Parsed(switch (type) {
            case IommuRequest.ATTACH -> new IommuRequest.Attach(body.get(INT, 0), body.get(INT, 4), body.get(INT, 8), body.get(INT, 12) != 0);
            case IommuRequest.DETACH -> new IommuRequest.Detach(body.get(INT, 0), body.get(INT, 4), body.get(LONG, 8) != 0);
            case IommuRequest.MAP -> new IommuRequest.Map(body.get(INT, 0), body.get(LONG, 4), body.get(LONG, 12), body.get(LONG, 20),
                    body.get(INT, 28));
            case IommuRequest.UNMAP -> new IommuRequest.Unmap(body.get(INT, 0), body.get(LONG, 4), body.get(LONG, 12), body.get(INT, 20) != 0);
            default -> new IommuRequest.Probe(body.get(INT, 0)); // PROBE; its 64 reserved bytes carry nothing
        });
    }

    /** Writes virtio_iommu_req_tail (status, three reserved zero bytes) at {@code offset}. */
    public static void encodeTail(MemorySegment reply, long offset, Status status) {
        reply.set(INT, offset, status.code());
    }

    /**
     * Writes one RESV_MEM property for {@code [start, end]} at {@code offset}: its header's length counts the
     * 20 bytes after the 4-byte header (virtio 1.2, 5.13.6.8.2).
     */
    public static void encodeReservedRegion(MemorySegment reply, long offset, int subtype, long start, long end) {
        reply.set(SHORT, offset, (short) PROPERTY_RESV_MEM);
        reply.set(SHORT, offset + 2, (short) (RESV_MEM_BYTES - 4));
        reply.set(ValueLayout.JAVA_BYTE, offset + 4, (byte) subtype);
        reply.set(LONG, offset + 8, start);
        reply.set(LONG, offset + 16, end);
    }

    /** virtio_iommu_fault for {@code fault}: reason, flags (direction and F_ADDRESS), endpoint, address. */
    public static MemorySegment encodeFault(IommuFault fault) {
        MemorySegment event = MemorySegment.ofArray(new byte[FAULT_BYTES]);
        event.set(ValueLayout.JAVA_BYTE, 0, (byte) fault.reason().code());
        int flags = FAULT_F_ADDRESS | (fault.access() == Access.READ ? FAULT_F_READ : FAULT_F_WRITE);
        event.set(INT, 4, flags);
        event.set(INT, 8, fault.endpoint());
        event.set(LONG, 16, fault.address());
        return event;
    }
}
