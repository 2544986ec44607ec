package io.vmguard.virtio.pci;

import io.vmguard.pci.PciCapability;
import io.vmguard.pci.PciDevice;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * VIRTIO_PCI_CAP_PCI_CFG (virtio 1.2, section 4.1.4.9): a window onto the BAR through configuration space,
 * for software that can reach config space but has not mapped the BAR (firmware, boot loaders). The driver
 * writes which BAR, offset and length (1, 2 or 4 bytes) into the capability; a write of pci_cfg_data then
 * writes its first length bytes there, and a read of pci_cfg_data first reads them from there.
 *
 * <p>The BAR access goes through the transport as if the guest had made it, with its side effects (a
 * read of ISR status clears it): the spec asks for exactly that, which makes this the one capability whose
 * reads are not side-effect free. The access does not depend on memory space being enabled, the point
 * of the window. Values the spec forbids the driver to use (another BAR, a length other than 1, 2 or 4, an
 * unaligned or out-of-range offset) make pci_cfg_data inert: nothing is accessed, reads return what it
 * held.
 */
final class PciConfigWindow implements PciCapability, Snapshottable {
    static final int LENGTH = 20;
    private static final int CAP_LEN = 2;
    private static final int CFG_TYPE = 3;
    private static final int BAR = 4;
    private static final int OFFSET = 8;
    private static final int ACCESS_LENGTH = 12;
    static final int DATA = 16;

    private final int barIndex;
    private final long barSize;
    /** The function whose BAR the window reaches, through its own BAR handlers. */
    private final PciDevice function;
    /** The capability as the guest sees it (bytes 0-1 are the config space's). */
    private final byte[] bytes = new byte[LENGTH];

    PciConfigWindow(int barIndex, long barSize, PciDevice function) {
        this.barIndex = barIndex;
        this.barSize = barSize;
        this.function = function;
        bytes[CAP_LEN] = LENGTH;
        bytes[CFG_TYPE] = VirtioCapabilities.PCI_CFG;
    }

    @Override
    public int id() {
        return ID_VENDOR_SPECIFIC;
    }

    @Override
    public int length() {
        return LENGTH;
    }

    @Override
    public synchronized int read(int offset, int size) {
        if (touchesData(offset, size)) {
            Target target = target();
            if (target != null) {
                MemorySegment data = MemorySegment.ofArray(new byte[target.length()]);
                function.readBar(barIndex, target.offset(), data);
                for (int i = 0; i < target.length(); i++) {
                    bytes[DATA + i] = data.get(ValueLayout.JAVA_BYTE, i);
                }
            }
        }
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= Byte.toUnsignedInt(bytes[offset + i]) << (8 * i);
        }
        return value;
    }

    @Override
    public synchronized void write(int offset, int size, int value) {
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (writable(at)) {
                bytes[at] = (byte) (value >>> (8 * i));
            }
        }
        if (touchesData(offset, size)) {
            Target target = target();
            if (target != null) {
                MemorySegment data = MemorySegment.ofArray(new byte[target.length()]);
                for (int i = 0; i < target.length(); i++) {
                    data.set(ValueLayout.JAVA_BYTE, i, bytes[DATA + i]);
                }
                function.writeBar(barIndex, target.offset(), data);
            }
        }
    }

    /** What the driver wrote: where the window points and pci_cfg_data. Any values are valid: bad ones make the window inert. */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putInt("bar", Byte.toUnsignedInt(bytes[BAR]))
                .putLong("offset", Integer.toUnsignedLong(intAt(OFFSET)))
                .putLong("length", Integer.toUnsignedLong(intAt(ACCESS_LENGTH)))
                .putLong("data", Integer.toUnsignedLong(intAt(DATA)));
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        int bar = in.getInt("bar", 0, 0xff);
        long offset = in.getLong("offset", 0, 0xffff_ffffL);
        long length = in.getLong("length", 0, 0xffff_ffffL);
        long data = in.getLong("data", 0, 0xffff_ffffL);
        synchronized (this) {
            bytes[BAR] = (byte) bar;
            putInt(OFFSET, (int) offset);
            putInt(ACCESS_LENGTH, (int) length);
            putInt(DATA, (int) data);
        }
    }

    private void putInt(int at, int value) {
        for (int i = 0; i < 4; i++) {
            bytes[at + i] = (byte) (value >>> (8 * i));
        }
    }

    /** bar, offset, length and pci_cfg_data are the driver's; cap_len, cfg_type, id and padding are not. */
    private static boolean writable(int at) {
        return at == BAR || at >= OFFSET;
    }

    private static boolean touchesData(int offset, int size) {
        return offset + size > DATA;
    }

    /** Where the window points now, or null when it points at nothing the spec lets a driver reach through it. */
    private Target target() {
        long offset = Integer.toUnsignedLong(intAt(OFFSET));
        long length = Integer.toUnsignedLong(intAt(ACCESS_LENGTH));
        boolean validLength = length == 1 || length == 2 || length == 4;
        if (Byte.toUnsignedInt(bytes[BAR]) != barIndex || !validLength || offset % length != 0 || offset + length > barSize) {
            return null;
        }
        return new Target(offset, (int) length);
    }

    private record Target(long offset, int length) {}

    private int intAt(int at) {
        return Byte.toUnsignedInt(bytes[at]) | Byte.toUnsignedInt(bytes[at + 1]) << 8 | Byte.toUnsignedInt(bytes[at + 2]) << 16
                | Byte.toUnsignedInt(bytes[at + 3]) << 24;
    }
}
