package io.vmguard.pci;

import io.vmguard.bus.MsiSink;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.IntFunction;

/**
 * MSI-X (PCI Local Bus spec 3.0, section 6.8.2): the capability in config space, and the vector table and
 * pending-bit array the device places in one of its memory BARs. The device forwards its BAR accesses
 * here first ({@link #readBar}, {@link #writeBar}) and raises interrupts with {@link #signal}.
 *
 * <p><b>Message control</b> (capability offset 2): table size (read-only), function mask (bit 14) and
 * MSI-X enable (bit 15). The table and PBA offset/BIR registers are read-only.
 *
 * <p><b>Table</b>: 16 bytes per vector, message address (low bits 1:0 read 0), upper address, data and
 * vector control, whose bit 0 masks the vector (set at reset); its other bits read 0. <b>PBA</b>: one
 * read-only bit per vector, in qwords; writes are ignored.
 *
 * <p><b>Delivery</b>: a vector signalled while it or the function is masked becomes pending; unmasking
 * (either mask) sends each pending unmasked vector once and clears its bit. Nothing is sent or made
 * pending while MSI-X is disabled: the device then uses INTx, if it has a pin.
 *
 * <p>The guest writes the table: every value is accepted, and a vector number from the guest (virtio's
 * queue vector registers) that names no entry is ignored. Thread-safe; messages go to the sink outside
 * this object's lock.
 *
 * <p>A snapshot holds message control's writable bits, the whole table and the pending bits; restoring
 * sends nothing (a pending vector goes out at the next unmask, as it would have).
 */
public final class MsixCapability implements PciCapability, Snapshottable {
    public static final int MAX_VECTORS = 2048;
    public static final int ENTRY_SIZE = 16;
    public static final int CONTROL_ENABLE = 1 << 15;
    public static final int CONTROL_FUNCTION_MASK = 1 << 14;
    /** Bit 0 of an entry's vector control. */
    public static final int VECTOR_MASKED = 1;

    private static final int CONTROL = 2;
    private static final int TABLE = 4;
    private static final int PBA = 8;
    private static final int LENGTH = 12;
    private static final int ADDRESS_LOW = 0, ADDRESS_HIGH = 1, DATA = 2, VECTOR_CONTROL = 3;

    private final int vectors;
    private final int tableBar;
    private final long tableOffset;
    private final int pbaBar;
    private final long pbaOffset;
    private final MsiSink sink;
    /** Four dwords per vector: address low, address high, data, vector control. */
    private final int[] table;
    private final long[] pending;
    /** The writable bits of message control: enable and function mask. */
    private int control;

    /** A pending vector's message, taken under the lock and sent after it. */
    private record Message(long address, int data) {}

    /**
     * MSI-X with {@code vectors} entries; table and PBA at the given BARs and offsets (8-byte aligned, as
     * the BIR occupies the offset's low three bits; they may share a BAR but not overlap).
     */
    public MsixCapability(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset, MsiSink sink) {
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X vectors must be 1-" + MAX_VECTORS + ": " + vectors);
        }
        checkLocation("table", tableBar, tableOffset);
        checkLocation("PBA", pbaBar, pbaOffset);
        if (tableBar == pbaBar && tableOffset < pbaOffset + pbaBytes(vectors) && pbaOffset < tableOffset + tableBytes(vectors)) {
            throw new IllegalArgumentException("MSI-X table and PBA overlap");
        }
        this.vectors = vectors;
        this.tableBar = tableBar;
        this.tableOffset = tableOffset;
        this.pbaBar = pbaBar;
        this.pbaOffset = pbaOffset;
        this.sink = sink;
        this.table = new int[vectors * 4];
        this.pending = new long[(vectors + 63) / 64];
        for (int v = 0; v < vectors; v++) {
            table[4 * v + VECTOR_CONTROL] = VECTOR_MASKED;
        }
    }

    private static void checkLocation(String what, int bar, long offset) {
        if (bar < 0 || bar >= PciConfigSpace.BAR_COUNT || offset < 0 || offset > 0xffff_fff8L || (offset & 7) != 0) {
            throw new IllegalArgumentException("MSI-X " + what + " at BAR " + bar + " offset 0x" + Long.toHexString(offset));
        }
    }

    /** Bytes the vector table of {@code vectors} entries takes in its BAR. */
    public static long tableBytes(int vectors) {
        return (long) vectors * ENTRY_SIZE;
    }

    /** Bytes the pending-bit array takes: whole qwords. */
    public static long pbaBytes(int vectors) {
        return (vectors + 63L) / 64 * 8;
    }

    /** The builder's check that the table and PBA lie inside memory BARs the function declares. */
    void checkFits(IntFunction<Optional<PciBar>> bars) {
        checkInside("table", bars.apply(tableBar), tableBar, tableOffset, tableBytes(vectors));
        checkInside("PBA", bars.apply(pbaBar), pbaBar, pbaOffset, pbaBytes(vectors));
    }

    private static void checkInside(String what, Optional<PciBar> bar, int index, long offset, long bytes) {
        if (bar.isEmpty() || offset + bytes > bar.get().size()) {
            throw new IllegalArgumentException("MSI-X " + what + " does not fit in BAR " + index);
        }
    }

    public int vectors() {
        return vectors;
    }

    public synchronized boolean enabled() {
        return (control & CONTROL_ENABLE) != 0;
    }

    public synchronized boolean functionMasked() {
        return (control & CONTROL_FUNCTION_MASK) != 0;
    }

    public synchronized boolean pending(int vector) {
        return vector >= 0 && vector < vectors && (pending[vector >> 6] & 1L << vector) != 0;
    }

    // ---- the device's side ----

    /**
     * Raises {@code vector}: sends its message now, or marks it pending while it or the function is
     * masked. Does nothing while MSI-X is disabled or for a number that names no vector (the guest
     * chooses such numbers, e.g. virtio's NO_VECTOR 0xffff). Any thread.
     */
    public void signal(int vector) {
        Message message;
        synchronized (this) {
            if (!enabled() || vector < 0 || vector >= vectors) {
                return;
            }
            if (functionMasked() || (table[4 * vector + VECTOR_CONTROL] & VECTOR_MASKED) != 0) {
                pending[vector >> 6] |= 1L << vector;
                return;
            }
            message = messageOf(vector);
        }
        sink.signal(message.address(), message.data());
    }

    private Message messageOf(int vector) {
        int entry = 4 * vector;
        long address = Integer.toUnsignedLong(table[entry + ADDRESS_LOW]) | (long) table[entry + ADDRESS_HIGH] << 32;
        return new Message(address, table[entry + DATA]);
    }

    /** Takes the pending vectors that may now be sent, in vector order; under the lock. */
    private List<Message> takeDeliverable() {
        List<Message> messages = new ArrayList<>();
        if (!enabled() || functionMasked()) {
            return messages;
        }
        for (int vector = 0; vector < vectors; vector++) {
            if ((pending[vector >> 6] & 1L << vector) != 0 && (table[4 * vector + VECTOR_CONTROL] & VECTOR_MASKED) == 0) {
                pending[vector >> 6] &= ~(1L << vector);
                messages.add(messageOf(vector));
            }
        }
        return messages;
    }

    private void send(List<Message> messages) {
        for (Message message : messages) {
            sink.signal(message.address(), message.data());
        }
    }

    // ---- the capability in config space ----

    @Override
    public int id() {
        return ID_MSIX;
    }

    @Override
    public int length() {
        return LENGTH;
    }

    @Override
    public synchronized int read(int offset, int size) {
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= capabilityByte(offset + i) << (8 * i);
        }
        return value;
    }

    private int capabilityByte(int offset) {
        long register = switch (offset & ~3) {
            case 0 -> ((long) (vectors - 1) | control) << 16; // bytes 0-1 are the config space's
            case TABLE -> tableOffset | tableBar;
            case PBA -> pbaOffset | pbaBar;
            default -> 0;
        };
        return (int) (register >>> (8 * (offset & 3))) & 0xff;
    }

    @Override
    public void write(int offset, int size, int value) {
        List<Message> messages;
        synchronized (this) {
            int controlHigh = CONTROL + 1;
            if (offset > controlHigh || offset + size <= controlHigh) {
                return; // only message control's upper byte holds writable bits
            }
            int written = (value >>> (8 * (controlHigh - offset))) & 0xff;
            control = (written << 8) & (CONTROL_ENABLE | CONTROL_FUNCTION_MASK);
            messages = takeDeliverable();
        }
        send(messages);
    }

    // ---- the table and PBA in the device's BAR ----

    /** Answers a BAR read that touches the table or the PBA; false (data untouched) for any other. */
    public boolean readBar(int bar, long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        if (!touches(bar, offset, size)) {
            return false;
        }
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                data.set(ValueLayout.JAVA_BYTE, i, (byte) barByte(bar, offset + i));
            }
        }
        return true;
    }

    /** Takes a BAR write that touches the table (the PBA is read-only); false for any other. */
    public boolean writeBar(int bar, long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        if (!touches(bar, offset, size)) {
            return false;
        }
        List<Message> messages;
        synchronized (this) {
            for (int i = 0; i < size; i++) {
                long at = offset + i;
                if (bar == tableBar && at >= tableOffset && at < tableOffset + tableBytes(vectors)) {
                    writeTableByte((int) (at - tableOffset), Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, i)));
                }
            }
            messages = takeDeliverable();
        }
        send(messages);
        return true;
    }

    private boolean touches(int bar, long offset, int size) {
        return overlaps(bar, offset, size, tableBar, tableOffset, tableBytes(vectors))
                || overlaps(bar, offset, size, pbaBar, pbaOffset, pbaBytes(vectors));
    }

    private static boolean overlaps(int bar, long offset, int size, int regionBar, long regionOffset, long regionSize) {
        return bar == regionBar && offset < regionOffset + regionSize && regionOffset < offset + size;
    }

    /** A byte of the table or PBA; bytes of an access that spill past them read 0. */
    private int barByte(int bar, long at) {
        if (bar == tableBar && at >= tableOffset && at < tableOffset + tableBytes(vectors)) {
            int index = (int) (at - tableOffset);
            return table[index >> 2] >>> (8 * (index & 3)) & 0xff;
        }
        if (bar == pbaBar && at >= pbaOffset && at < pbaOffset + pbaBytes(vectors)) {
            int index = (int) (at - pbaOffset);
            return (int) (pending[index >> 3] >>> (8 * (index & 7))) & 0xff;
        }
        return 0;
    }

    private void writeTableByte(int index, int value) {
        int dword = index >> 2;
        int shift = 8 * (index & 3);
        int merged = (table[dword] & ~(0xff << shift)) | (value << shift);
        table[dword] = switch (dword & 3) {
            case ADDRESS_LOW -> merged & ~3; // dword-aligned message address
            case VECTOR_CONTROL -> merged & VECTOR_MASKED; // the other bits are reserved
            default -> merged;
        };
    }

    // ---- snapshots ----

    @Override
    public synchronized void saveState(StateWriter out) {
        out.putInt("vectors", vectors).putInt("control", control).putInts("table", table.clone()).putLongs("pending", pending.clone());
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        int savedVectors = in.getInt("vectors");
        if (savedVectors != vectors) {
            throw PciConfigSpace.invalid(in, "vectors", "is " + savedVectors + ", but this table has " + vectors);
        }
        int savedControl = in.getInt("control");
        if ((savedControl & ~(CONTROL_ENABLE | CONTROL_FUNCTION_MASK)) != 0) {
            throw PciConfigSpace.invalid(in, "control", "0x" + Integer.toHexString(savedControl) + " sets read-only bits");
        }
        int[] savedTable = in.getInts("table", table.length);
        for (int v = 0; v < vectors; v++) {
            if ((savedTable[4 * v + ADDRESS_LOW] & 3) != 0) {
                throw PciConfigSpace.invalid(in, "table." + (4 * v + ADDRESS_LOW), "is not a dword-aligned message address");
            }
            if ((savedTable[4 * v + VECTOR_CONTROL] & ~VECTOR_MASKED) != 0) {
                throw PciConfigSpace.invalid(in, "table." + (4 * v + VECTOR_CONTROL), "sets reserved vector control bits");
            }
        }
        long[] savedPending = in.getLongs("pending", pending.length);
        int spare = vectors % 64;
        if (spare != 0 && (savedPending[pending.length - 1] & -(1L << spare)) != 0) {
            throw PciConfigSpace.invalid(in, "pending", "has bits for vectors beyond the table's " + vectors);
        }
        synchronized (this) {
            control = savedControl;
            System.arraycopy(savedTable, 0, table, 0, table.length);
            System.arraycopy(savedPending, 0, pending, 0, pending.length);
        }
    }

    @Override
    public String toString() {
        return "MSI-X " + vectors + " vectors, table BAR " + tableBar + "+0x" + Long.toHexString(tableOffset)
                + ", PBA BAR " + pbaBar + "+0x" + Long.toHexString(pbaOffset);
    }
}
