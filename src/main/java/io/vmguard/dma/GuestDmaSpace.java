package io.vmguard.dma;

import io.vmguard.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * DMA with no IOMMU in the way: bus addresses are guest physical addresses, and a device reaches all of
 * guest RAM but nothing else. This is what a PC without an IOMMU gives its devices. Every write (the IOMMU's
 * door writes through this one too) is told to a {@link DeviceWriteObserver}, before and after its bytes change.
 */
public final class GuestDmaSpace implements DmaSpace {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestMemory memory;
    private final DeviceWriteObserver observer;

    public GuestDmaSpace(GuestMemory memory) {
        this(memory, DeviceWriteObserver.NONE);
    }

    /** A door whose writes {@code observer} hears of (the engine, so it sees code a device changed). */
    public GuestDmaSpace(GuestMemory memory, DeviceWriteObserver observer) {
        this.memory = memory;
        this.observer = observer;
    }

    @Override
    public void read(long address, MemorySegment destination) throws DmaFault {
        long length = destination.byteSize();
        MemorySegment.copy(ram(address, length, DmaFault.Access.READ), 0, destination, 0, length);
    }

    @Override
    public void write(long address, MemorySegment source) throws DmaFault {
        long length = source.byteSize();
        if (length == 0) {
            return;
        }
        MemorySegment target = ram(address, length, DmaFault.Access.WRITE);
        observer.writing(address, length);
        try {
            MemorySegment.copy(source, 0, target, 0, length);
        } finally {
            observer.written(address, length);
        }
    }

    @Override
    public short readShort(long address) throws DmaFault {
        return ram(address, 2, DmaFault.Access.READ).get(SHORT, 0);
    }

    @Override
    public int readInt(long address) throws DmaFault {
        return ram(address, 4, DmaFault.Access.READ).get(INT, 0);
    }

    @Override
    public long readLong(long address) throws DmaFault {
        return ram(address, 8, DmaFault.Access.READ).get(LONG, 0);
    }

    @Override
    public void writeShort(long address, short value) throws DmaFault {
        MemorySegment target = ram(address, 2, DmaFault.Access.WRITE);
        observer.writing(address, 2);
        target.set(SHORT, 0, value);
        observer.written(address, 2);
    }

    @Override
    public void writeInt(long address, int value) throws DmaFault {
        MemorySegment target = ram(address, 4, DmaFault.Access.WRITE);
        observer.writing(address, 4);
        target.set(INT, 0, value);
        observer.written(address, 4);
    }

    private MemorySegment ram(long address, long length, DmaFault.Access access) throws DmaFault {
        if (length == 0) {
            return MemorySegment.NULL;
        }
        if (address < 0 || address + length < address || !memory.contains(address, length)) {
            throw new DmaFault(address, length, access, "outside guest RAM");
        }
        return memory.slice(address, length);
    }
}
