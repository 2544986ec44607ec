package io.vmguard.pci;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;

/**
 * PCI Express enhanced configuration access: bus in offset bits 27:20, device 19:15, function 14:12,
 * register 11:0, so every function has 4 KiB. Any access width works; an 8-byte access is two dword
 * configuration accesses (and one that crosses into the next function is split there), which the
 * spec leaves undefined and we keep harmless.
 */
final class EcamWindow implements BusDevice {
    private static final int FUNCTION_SIZE = PciConfigSpace.SIZE;

    private final PciRoot root;

    EcamWindow(PciRoot root) {
        this.root = root;
    }

    @Override
    public void read(long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        long value = 0;
        for (int done = 0; done < size; ) {
            long at = offset + done;
            int piece = piece(at, size - done);
            int part = root.readConfig(bus(at), device(at), function(at), register(at), piece);
            value |= (Integer.toUnsignedLong(part) & mask(piece)) << (8 * done);
            done += piece;
        }
        Bytes.store(data, value);
    }

    @Override
    public void write(long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        long value = Bytes.load(data);
        for (int done = 0; done < size; ) {
            long at = offset + done;
            int piece = piece(at, size - done);
            root.writeConfig(bus(at), device(at), function(at), register(at), piece, (int) (value >>> (8 * done)));
            done += piece;
        }
    }

    /** At most a dword, and never past the end of the function's space. */
    private static int piece(long at, int remaining) {
        return Math.min(Math.min(remaining, 4), FUNCTION_SIZE - register(at));
    }

    private static long mask(int bytes) {
        return (1L << (8 * bytes)) - 1;
    }

    private static int bus(long offset) {
        return (int) (offset >>> 20) & 0xff;
    }

    private static int device(long offset) {
        return (int) (offset >>> 15) & 0x1f;
    }

    private static int function(long offset) {
        return (int) (offset >>> 12) & 7;
    }

    private static int register(long offset) {
        return (int) offset & (FUNCTION_SIZE - 1);
    }
}
