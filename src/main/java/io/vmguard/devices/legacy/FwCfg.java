package io.vmguard.devices.legacy;

import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * QEMU's firmware configuration interface (fw_cfg), its traditional x86 I/O ports: what small test kernels
 * read to learn where they run (QEMU's docs/specs/fw_cfg.rst). A 16-bit write to the selector port (0x510)
 * picks an item and rewinds it; each byte read from the data port (0x511) returns the item's next byte, and
 * 0 past its end (or for an item vmguard does not have). Writes to the data port are ignored, as in QEMU since
 * 2.4. Items: the signature "QEMU", the interface id (traditional interface only, no DMA), the RAM size, the
 * CPU count and maximum, and an empty file directory.
 */
public final class FwCfg implements BusDevice, Snapshottable {
    public static final BusRange PORTS = new BusRange(0x510, 2);

    static final int SIGNATURE = 0x00;
    static final int ID = 0x01;
    static final int RAM_SIZE = 0x03;
    static final int NB_CPUS = 0x05;
    static final int MAX_CPUS = 0x0f;
    static final int FILE_DIR = 0x19;
    /** Bit 0 of the id: the traditional (port) interface; bit 1, DMA, is not offered. */
    private static final int TRADITIONAL_INTERFACE = 1;

    private final Map<Integer, byte[]> items;
    private int selector;
    private int offset;

    public FwCfg(long ramBytes, int cpus) {
        this.items = Map.of(
                SIGNATURE, "QEMU".getBytes(StandardCharsets.US_ASCII),
                ID, littleEndian(4, TRADITIONAL_INTERFACE),
                RAM_SIZE, littleEndian(8, ramBytes),
                NB_CPUS, littleEndian(2, cpus),
                MAX_CPUS, littleEndian(2, cpus),
                FILE_DIR, new byte[4]); // a big-endian count of 0 files
    }

    private static byte[] littleEndian(int size, long value) {
        ByteBuffer buffer = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        byte[] bytes = new byte[size];
        System.arraycopy(buffer.array(), 0, bytes, 0, size);
        return bytes;
    }

    @Override
    public synchronized void read(long at, MemorySegment data) {
        data.fill((byte) 0);
        if (at != 1) {
            return; // the selector port reads as 0
        }
        byte[] item = items.get(selector);
        for (long i = 0; i < data.byteSize() && item != null && offset < item.length; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, item[offset++]);
        }
    }

    @Override
    public synchronized void write(long at, MemorySegment data) {
        if (at != 0) {
            return; // the data port: writes are ignored
        }
        int value = Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, 0));
        if (data.byteSize() >= 2) {
            value |= Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, 1)) << 8;
        }
        selector = value;
        offset = 0;
    }

    @Override
    public synchronized void saveState(StateWriter out) {
        out.putInt("selector", selector).putInt("offset", offset);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        selector = in.getInt("selector", 0, 0xffff);
        offset = in.getInt("offset", 0, 1 << 16);
    }
}
