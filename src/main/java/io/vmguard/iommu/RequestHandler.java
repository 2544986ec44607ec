package io.vmguard.iommu;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.virtio.DescriptorChain;
import java.lang.foreign.MemorySegment;

/**
 * Serves one chain of the request queue: reads the head and body, carries the request out on the state,
 * and writes the reply, following virtio 1.2 5.13.6 and the research matrix (rows 1-6, 39-42).
 *
 * <p>The reply is the chain's whole device-writable part: zeroes, PROBE properties at its start, and the
 * tail (virtio_iommu_req_tail) in its last four bytes, where the driver's struct puts it. The used length
 * is then the writable size (Linux needs exactly that for PROBE, and non-zero for the rest); it is 0 when
 * the device writes nothing: no head, no room for a tail, an unknown type, PROBE not negotiated, or
 * buffers it cannot reach. Nothing here throws for anything the guest sends.
 */
final class RequestHandler {
    /** probe_size in the configuration: room for the one RESV_MEM property and a few more later. */
    static final int PROBE_SIZE = 64;
    /** The largest writable part answered; a bigger one is malformed (and would make the device zero megabytes). */
    static final long MAX_REPLY_BYTES = 64 * 1024;

    private final IommuDomains domains;

    RequestHandler(IommuDomains domains) {
        this.domains = domains;
    }

    /** What serving a chain came to: the used length, and the status written (null when nothing was). */
    record Served(int usedLength, Status status) {
        static final Served NO_REPLY = new Served(0, null);
    }

    /** Serves {@code chain} with the driver's {@code features}. */
    Served serve(DescriptorChain chain, DmaSpace dma, long features) {
        long writable = chain.writableBytes();
        if (chain.readableBytes() < RequestCodec.HEAD_BYTES || writable < RequestCodec.TAIL_BYTES || writable > MAX_REPLY_BYTES) {
            return Served.NO_REPLY;
        }
        MemorySegment request = MemorySegment.ofArray(new byte[(int) Math.min(chain.readableBytes(),
                RequestCodec.HEAD_BYTES + RequestCodec.MAX_BODY_BYTES)]);
        try {
            chain.read(dma, 0, request);
        } catch (DmaFault fault) {
            return Served.NO_REPLY;
        }
        boolean probe = (features & IommuFeatures.PROBE) != 0;
        MemorySegment reply = MemorySegment.ofArray(new byte[(int) writable]);
        Status status = switch (RequestCodec.decode(request)) {
            case RequestCodec.Unknown unknown -> null;
            case RequestCodec.Truncated truncated -> truncated.type() == IommuRequest.PROBE && !probe ? null : Status.INVAL;
            case RequestCodec.Parsed(IommuRequest.Probe endpointProbe) -> probe ? probe(endpointProbe, reply) : null;
            case RequestCodec.Parsed parsed -> domains.execute(parsed.request());
        };
        if (status == null) {
            return Served.NO_REPLY;
        }
        RequestCodec.encodeTail(reply, writable - RequestCodec.TAIL_BYTES, status);
        try {
            chain.write(dma, 0, reply);
        } catch (DmaFault fault) {
            return Served.NO_REPLY;
        }
        return new Served((int) writable, status);
    }

    /**
     * PROBE: with room for probe_size bytes of properties, the endpoint's reserved regions (the MSI window);
     * with less, no property and S_INVAL (matrix row 40).
     */
    private Status probe(IommuRequest.Probe request, MemorySegment reply) {
        if (reply.byteSize() - RequestCodec.TAIL_BYTES < PROBE_SIZE) {
            return Status.INVAL;
        }
        Status status = domains.execute(request);
        if (status == Status.OK) {
            RequestCodec.encodeReservedRegion(reply, 0, RequestCodec.RESV_MEM_MSI, IommuConfig.MSI_START, IommuConfig.MSI_END);
        }
        return status;
    }
}
