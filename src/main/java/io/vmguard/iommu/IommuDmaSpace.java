package io.vmguard.iommu;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One endpoint's door to memory through the IOMMU: every access is translated whole through the
 * endpoint's domain (all its bytes, over as many IOVA-adjacent mappings as it spans, each with the
 * access's permission) and only then copied, to or from guest-physical memory through {@code backing}.
 * A refused access moves nothing, is reported once to the {@link FaultSink} and fails with {@link DmaFault}.
 *
 * <p>Translation and copy run under the state's read lock ({@link IommuDomains} says why): an UNMAP or
 * DETACH returns only after every access that might use what it removed is over. The backing may still
 * refuse a piece (a mapping the guest pointed outside its RAM); when an access runs over several
 * mappings that can leave the pieces before it copied, which the spec allows (matrix row 46: "or split per
 * mapping"). Thread-safe.
 */
public final class IommuDmaSpace implements DmaSpace {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final IommuDomains domains;
    private final int endpointId;
    private final Endpoint endpoint;
    private final DmaSpace backing;
    private final String device;
    private final FaultSink faults;

    /**
     * @param device   the device's name, for fault reports
     * @param backing  guest-physical memory (the identity door, {@link io.vmguard.dma.GuestDmaSpace})
     * @param faults   where refused accesses are reported
     */
    public IommuDmaSpace(IommuDomains domains, int endpoint, String device, DmaSpace backing, FaultSink faults) {
        this.domains = domains;
        this.endpointId = endpoint;
        this.endpoint = domains.endpoint(endpoint);
        this.device = device;
        this.backing = backing;
        this.faults = faults;
    }

    public int endpoint() {
        return endpointId;
    }

    /** The copy of one piece, to or from guest-physical memory; {@code offset} counts from the access's start. */
    @FunctionalInterface
    private interface Copy {
        void piece(long physical, long offset, long length) throws DmaFault;
    }

    private void access(long iova, long length, Access access, Copy copy) throws DmaFault {
        if (length == 0) {
            return;
        }
        Translation.Refused refused;
        domains.readLock().lock();
        try {
            switch (domains.translate(endpointId, endpoint, iova, length, access)) {
                case Translation.Contiguous whole -> {
                    copy.piece(whole.physical(), 0, length);
                    return;
                }
                case Translation.Pieces pieces -> {
                    long offset = 0;
                    for (int i = 0; i < pieces.physicals().length; i++) {
                        copy.piece(pieces.physicals()[i], offset, pieces.lengths()[i]);
                        offset += pieces.lengths()[i];
                    }
                    return;
                }
                case Translation.Refused r -> refused = r;
            }
        } finally {
            domains.readLock().unlock();
        }
        // Reported outside the lock: the sink may take the IOMMU device's lock, whose holder may be waiting for ours.
        faults.fault(new IommuFault(device, endpointId, refused.domain(), refused.address(), length, access, refused.reason()));
        throw new DmaFault(iova, length, access.dma(), "IOMMU: " + describe(refused));
    }

    private String describe(Translation.Refused refused) {
        String where = " (endpoint 0x" + Integer.toHexString(endpointId)
                + (refused.domain().isPresent() ? ", domain " + refused.domain().getAsLong() : "") + ")";
        return switch (refused.reason()) {
            case UNKNOWN_ENDPOINT -> "unknown endpoint" + where;
            case NOT_ATTACHED -> "endpoint not attached to a domain" + where;
            case UNMAPPED -> "0x" + Long.toHexString(refused.address()) + " is not mapped" + where;
            case PERMISSION -> "0x" + Long.toHexString(refused.address()) + " is mapped without this permission" + where;
        };
    }

    @Override
    public void read(long address, MemorySegment destination) throws DmaFault {
        access(address, destination.byteSize(), Access.READ,
                (physical, offset, length) -> backing.read(physical, destination.asSlice(offset, length)));
    }

    @Override
    public void write(long address, MemorySegment source) throws DmaFault {
        access(address, source.byteSize(), Access.WRITE,
                (physical, offset, length) -> backing.write(physical, source.asSlice(offset, length)));
    }

    // The typed accessors (virtqueue indices and flags: the commonest accesses) read or write guest memory
    // directly when the value lies inside one mapping, under the same lock as every access; a value that
    // straddles two mappings, or is refused, takes the general path through a small buffer.

    @Override
    public short readShort(long address) throws DmaFault {
        long physical = contiguous(address, 2, Access.READ);
        if (physical >= 0) {
            try {
                return backing.readShort(physical);
            } finally {
                domains.readLock().unlock();
            }
        }
        return buffered(address, 2).get(SHORT, 0);
    }

    @Override
    public int readInt(long address) throws DmaFault {
        long physical = contiguous(address, 4, Access.READ);
        if (physical >= 0) {
            try {
                return backing.readInt(physical);
            } finally {
                domains.readLock().unlock();
            }
        }
        return buffered(address, 4).get(INT, 0);
    }

    @Override
    public long readLong(long address) throws DmaFault {
        long physical = contiguous(address, 8, Access.READ);
        if (physical >= 0) {
            try {
                return backing.readLong(physical);
            } finally {
                domains.readLock().unlock();
            }
        }
        return buffered(address, 8).get(LONG, 0);
    }

    @Override
    public void writeShort(long address, short value) throws DmaFault {
        long physical = contiguous(address, 2, Access.WRITE);
        if (physical >= 0) {
            try {
                backing.writeShort(physical, value);
                return;
            } finally {
                domains.readLock().unlock();
            }
        }
        MemorySegment bytes = MemorySegment.ofArray(new byte[2]);
        bytes.set(SHORT, 0, value);
        write(address, bytes);
    }

    @Override
    public void writeInt(long address, int value) throws DmaFault {
        long physical = contiguous(address, 4, Access.WRITE);
        if (physical >= 0) {
            try {
                backing.writeInt(physical, value);
                return;
            } finally {
                domains.readLock().unlock();
            }
        }
        MemorySegment bytes = MemorySegment.ofArray(new byte[4]);
        bytes.set(INT, 0, value);
        write(address, bytes);
    }

    /**
     * The guest-physical address of {@code [address, address + size)} when one mapping holds it all with
     * {@code access}'s permission, returned with the read lock <b>held</b> (the caller copies, then unlocks);
     * otherwise -1 with the lock released, and the caller takes the general path (which reports refusals).
     */
    private long contiguous(long address, int size, Access access) {
        domains.readLock().lock();
        boolean keep = false;
        try {
            if (domains.translate(endpointId, endpoint, address, size, access) instanceof Translation.Contiguous whole) {
                keep = true;
                return whole.physical();
            }
            return -1;
        } finally {
            if (!keep) {
                domains.readLock().unlock();
            }
        }
    }

    private MemorySegment buffered(long address, int size) throws DmaFault {
        MemorySegment bytes = MemorySegment.ofArray(new byte[size]);
        read(address, bytes);
        return bytes;
    }
}
