package io.vmguard.virtio.pci;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import java.lang.foreign.MemorySegment;
import java.util.function.BooleanSupplier;

/**
 * A PCI function's door to memory, shut while the guest has bus mastering off: a function must not
 * start memory transactions then (PCI Local Bus spec, command register bit 2). Every access then fails
 * as an unreachable address would, so the device reports it to the driver (an I/O error or
 * DEVICE_NEEDS_RESET) and nothing reaches guest memory. This covers the DMA no kick starts: queue set-up
 * at DRIVER_OK, and the threads of devices that receive on their own (network, console input).
 */
final class BusMasterDma implements DmaSpace {
    private final DmaSpace dma;
    private final BooleanSupplier busMasterEnabled;

    BusMasterDma(DmaSpace dma, BooleanSupplier busMasterEnabled) {
        this.dma = dma;
        this.busMasterEnabled = busMasterEnabled;
    }

    private void check(long address, long length, DmaFault.Access access) throws DmaFault {
        if (!busMasterEnabled.getAsBoolean()) {
            throw new DmaFault(address, length, access, "bus mastering is disabled");
        }
    }

    @Override
    public void read(long address, MemorySegment destination) throws DmaFault {
        check(address, destination.byteSize(), DmaFault.Access.READ);
        dma.read(address, destination);
    }

    @Override
    public void write(long address, MemorySegment source) throws DmaFault {
        check(address, source.byteSize(), DmaFault.Access.WRITE);
        dma.write(address, source);
    }

    @Override
    public short readShort(long address) throws DmaFault {
        check(address, 2, DmaFault.Access.READ);
        return dma.readShort(address);
    }

    @Override
    public int readInt(long address) throws DmaFault {
        check(address, 4, DmaFault.Access.READ);
        return dma.readInt(address);
    }

    @Override
    public long readLong(long address) throws DmaFault {
        check(address, 8, DmaFault.Access.READ);
        return dma.readLong(address);
    }

    @Override
    public void writeShort(long address, short value) throws DmaFault {
        check(address, 2, DmaFault.Access.WRITE);
        dma.writeShort(address, value);
    }

    @Override
    public void writeInt(long address, int value) throws DmaFault {
        check(address, 4, DmaFault.Access.WRITE);
        dma.writeInt(address, value);
    }
}
