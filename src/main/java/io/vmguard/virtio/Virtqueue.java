package io.vmguard.virtio;

import io.vmguard.dma.DmaFault;
import io.vmguard.dma.DmaSpace;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * The device side of one split virtqueue (virtio 1.2, section 2.7): takes available descriptor chains
 * and returns used ones, with indirect descriptors and EVENT_IDX notification suppression.
 *
 * <p>Everything in the rings is written by the driver and may be hostile: each index, length and flag is
 * checked, every access goes through the device's {@link DmaSpace}, and a broken contract is a
 * {@link QueueException} (the transport then sets DEVICE_NEEDS_RESET), never an exception out of the VMM
 * and never an endless loop. Not thread-safe: the device that owns a queue serialises its use.
 */
public final class Virtqueue {
    public static final int MAX_SIZE = 32768;

    private static final int DESCRIPTOR_BYTES = 16;
    private static final int DESC_F_NEXT = 1;
    private static final int DESC_F_WRITE = 2;
    private static final int DESC_F_INDIRECT = 4;
    private static final int AVAIL_F_NO_INTERRUPT = 1;
    private static final int USED_F_NO_NOTIFY = 1;
    /**
     * The most bytes one chain may describe. Real requests are far smaller; the cap keeps a driver that
     * lies about lengths from making a device copy gigabytes (and keeps the sums far from overflow).
     */
    static final long MAX_CHAIN_BYTES = 1L << 32;

    /** Where the driver put the three parts of the queue, and how many entries it has. */
    public record Layout(int size, long descriptorTable, long driverArea, long deviceArea) {}

    private final DmaSpace dma;
    private final int size;
    private final long descriptors;
    private final long avail;
    private final long used;
    private final boolean indirect;
    private final boolean eventIdx;
    /** Free-running 16-bit counters, as in the rings. */
    private int nextAvail;
    private int nextUsed;
    private int usedAtLastInterruptCheck;
    /**
     * What this device last wrote to used->flags (without EVENT_IDX): VRING_USED_F_NO_NOTIFY while busy, 0
     * when idle; -1 until it writes, since a restored queue's ring may hold the flag from before.
     */
    private int usedFlags = -1;

    private Virtqueue(DmaSpace dma, Layout layout, boolean indirect, boolean eventIdx) {
        this.dma = dma;
        this.size = layout.size();
        this.descriptors = layout.descriptorTable();
        this.avail = layout.driverArea();
        this.used = layout.deviceArea();
        this.indirect = indirect;
        this.eventIdx = eventIdx;
    }

    /**
     * A queue over the driver's rings, which must be sized and aligned as the spec requires.
     *
     * @param features the negotiated features (indirect descriptors and EVENT_IDX are honoured only when agreed)
     */
    public static Virtqueue create(DmaSpace dma, Layout layout, long features) throws QueueException {
        return create(dma, dma, layout, features);
    }

    /**
     * As {@link #create(DmaSpace, Layout, long)}, checking that the rings lie in memory through {@code reach}
     * rather than through the queue's own door: a restore checks placement even while the guest has shut
     * that door (a PCI function with bus mastering off), which is a state it may legitimately be in.
     */
    static Virtqueue create(DmaSpace dma, DmaSpace reach, Layout layout, long features) throws QueueException {
        int size = layout.size();
        if (size <= 0 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new QueueException("queue size " + size + " is not a power of two up to " + MAX_SIZE);
        }
        if ((layout.descriptorTable() & 15) != 0 || (layout.driverArea() & 1) != 0 || (layout.deviceArea() & 3) != 0) {
            throw new QueueException("queue rings are misaligned (descriptors 0x" + Long.toHexString(layout.descriptorTable())
                    + ", driver 0x" + Long.toHexString(layout.driverArea()) + ", device 0x" + Long.toHexString(layout.deviceArea()) + ")");
        }
        Virtqueue queue = new Virtqueue(dma, layout, VirtioFeatures.has(features, VirtioFeatures.RING_INDIRECT_DESC),
                VirtioFeatures.has(features, VirtioFeatures.RING_EVENT_IDX));
        // Touch the ends of all three parts now, so a queue placed outside memory fails at activation,
        // not mid-request (each access is still checked later: the driver may remap memory).
        readShort(reach, layout.descriptorTable(), "descriptor table");
        readShort(reach, layout.descriptorTable() + (long) DESCRIPTOR_BYTES * size - 2, "descriptor table");
        readShort(reach, queue.usedEventAddress(), "driver area");
        readShort(reach, queue.availEventAddress(), "device area");
        return queue;
    }

    /**
     * The device's place in the rings: the next available entry to take, the next used entry to fill, and
     * where the last interrupt decision left off (EVENT_IDX compares against it). Only the owning device
     * moves them, and it is paused while this runs.
     */
    public void saveState(StateWriter out) {
        out.putInt("nextAvail", nextAvail).putInt("nextUsed", nextUsed).putInt("usedAtLastInterrupt", usedAtLastInterruptCheck);
    }

    /**
     * Puts the device back where {@link #saveState} found it, before the device uses the queue. The device
     * can have taken at most a queue's worth of chains it has not returned; the interrupt mark may be any
     * earlier used index (a busy device returns many chains between two decisions).
     */
    public void restoreState(StateReader in) throws SnapshotException {
        int avail = in.getInt("nextAvail", 0, 0xffff);
        int usedIndex = in.getInt("nextUsed", 0, 0xffff);
        int mark = in.getInt("usedAtLastInterrupt", 0, 0xffff);
        if (((avail - usedIndex) & 0xffff) > size) {
            throw new SnapshotException("snapshot field " + field(in, "nextAvail") + " is " + avail + ", more than the queue's "
                    + size + " entries ahead of nextUsed " + usedIndex);
        }
        nextAvail = avail;
        nextUsed = usedIndex;
        usedAtLastInterruptCheck = mark;
    }

    private static String field(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }

    public int size() {
        return size;
    }

    /** Whether EVENT_IDX was agreed: the driver says through used_event when it wants an interrupt. */
    public boolean eventIdx() {
        return eventIdx;
    }

    /**
     * The next available chain, or null when the driver has made none available.
     *
     * <p>Notifications are suppressed while the device is busy (virtio 1.2, 2.7.10): only a pop that finds
     * the ring empty asks for a kick (with EVENT_IDX by setting avail_event to the next entry; without it
     * by clearing VRING_USED_F_NO_NOTIFY) and then looks again, since a buffer may have come meanwhile.
     * A pop that finds work leaves avail_event behind (or sets NO_NOTIFY): the driver adds buffers without
     * kicking, and the device finds them on its next pop. So a device may wait for a kick only after a pop
     * returned null, as every device here does (a request queue pops until null; a receive queue pops when
     * it has a frame, and waits for a kick only when that found nothing).
     */
    public DescriptorChain pop() throws QueueException {
        int pending = pendingChains();
        if (pending == 0) {
            if (eventIdx) {
                writeShort(availEventAddress(), nextAvail, "device area");
            } else if (usedFlags != 0) {
                writeShort(used, 0, "device area");
                usedFlags = 0;
            } else {
                return null;
            }
            VarHandle.fullFence();
            pending = pendingChains();
            if (pending == 0) {
                return null;
            }
        }
        if (!eventIdx && usedFlags != USED_F_NO_NOTIFY) {
            writeShort(used, USED_F_NO_NOTIFY, "device area");
            usedFlags = USED_F_NO_NOTIFY;
        }
        // The ring entry must be read after the index that published it.
        VarHandle.acquireFence();
        int head = readShort(avail + 4 + 2L * (nextAvail % size), "available ring");
        nextAvail = (nextAvail + 1) & 0xffff;
        return readChain(head);
    }

    /** Puts chain {@code head} back, telling the driver the device wrote {@code writtenBytes} into it. */
    public void addUsed(int head, int writtenBytes) throws QueueException {
        long element = used + 4 + 8L * (nextUsed % size);
        try {
            dma.writeInt(element, head);
            dma.writeInt(element + 4, writtenBytes);
            // The element must be visible before the index that publishes it.
            VarHandle.releaseFence();
            nextUsed = (nextUsed + 1) & 0xffff;
            dma.writeShort(used + 2, (short) nextUsed);
        } catch (DmaFault fault) {
            throw new QueueException("used ring: " + fault.getMessage(), fault);
        }
    }

    /**
     * Whether the driver wants an interrupt for the chains returned since the last call: with EVENT_IDX
     * when used_event was crossed, otherwise unless it set NO_INTERRUPT.
     */
    public boolean needsInterrupt() throws QueueException {
        VarHandle.fullFence();
        int old = usedAtLastInterruptCheck;
        usedAtLastInterruptCheck = nextUsed;
        if (old == nextUsed) {
            return false;
        }
        if (eventIdx) {
            int usedEvent = readShort(usedEventAddress(), "driver area");
            return ((nextUsed - usedEvent - 1) & 0xffff) < ((nextUsed - old) & 0xffff);
        }
        return (readShort(avail, "driver area") & AVAIL_F_NO_INTERRUPT) == 0;
    }

    private int pendingChains() throws QueueException {
        int availIndex = readShort(avail + 2, "driver area");
        int pending = (availIndex - nextAvail) & 0xffff;
        if (pending > size) {
            throw new QueueException("driver claims " + pending + " new buffers in a queue of " + size);
        }
        return pending;
    }

    private DescriptorChain readChain(int head) throws QueueException {
        if (head >= size) {
            throw new QueueException("chain head " + head + " is outside the descriptor table of " + size);
        }
        List<DescriptorChain.Buffer> buffers = new ArrayList<>();
        long table = descriptors;
        int tableSize = size;
        boolean inIndirectTable = false;
        boolean sawWritable = false;
        long totalBytes = 0;
        int index = head;
        // A chain visits each descriptor of its table at most once; more steps than entries means a loop.
        int steps = 0;
        while (true) {
            if (index >= tableSize) {
                throw new QueueException("descriptor " + index + " is outside its table of " + tableSize);
            }
            if (++steps > tableSize) {
                throw new QueueException("descriptor chain from " + head + " loops");
            }
            long entry = table + (long) DESCRIPTOR_BYTES * index;
            long address;
            long length;
            int flags;
            int next;
            try {
                address = dma.readLong(entry);
                length = Integer.toUnsignedLong(dma.readInt(entry + 8));
                flags = dma.readShort(entry + 12) & 0xffff;
                next = dma.readShort(entry + 14) & 0xffff;
            } catch (DmaFault fault) {
                throw new QueueException("descriptor table: " + fault.getMessage(), fault);
            }
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    throw new QueueException("indirect descriptor without RING_INDIRECT_DESC");
                }
                if (inIndirectTable) {
                    throw new QueueException("indirect descriptor inside an indirect table");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    throw new QueueException("indirect descriptor also has NEXT");
                }
                if (length == 0 || length % DESCRIPTOR_BYTES != 0 || length / DESCRIPTOR_BYTES > MAX_SIZE) {
                    throw new QueueException("indirect table length " + length + " is not 1.." + MAX_SIZE + " descriptors");
                }
                if ((address & 15) != 0) {
                    throw new QueueException("indirect table at 0x" + Long.toHexString(address) + " is misaligned");
                }
                table = address;
                tableSize = (int) (length / DESCRIPTOR_BYTES);
                inIndirectTable = true;
                index = 0;
                steps = 0;
                continue;
            }
            boolean writable = (flags & DESC_F_WRITE) != 0;
            if (!writable && sawWritable) {
                throw new QueueException("device-readable descriptor after a device-writable one");
            }
            sawWritable |= writable;
            totalBytes += length;
            if (totalBytes > MAX_CHAIN_BYTES) {
                throw new QueueException("descriptor chain describes more than " + MAX_CHAIN_BYTES + " bytes");
            }
            buffers.add(new DescriptorChain.Buffer(address, length, writable));
            if ((flags & DESC_F_NEXT) == 0) {
                return DescriptorChain.of(head, buffers);
            }
            index = next;
        }
    }

    private long usedEventAddress() {
        return avail + 4 + 2L * size;
    }

    private long availEventAddress() {
        return used + 4 + 8L * size;
    }

    private int readShort(long address, String what) throws QueueException {
        return readShort(dma, address, what);
    }

    private static int readShort(DmaSpace dma, long address, String what) throws QueueException {
        try {
            return dma.readShort(address) & 0xffff;
        } catch (DmaFault fault) {
            throw new QueueException(what + ": " + fault.getMessage(), fault);
        }
    }

    private void writeShort(long address, int value, String what) throws QueueException {
        try {
            dma.writeShort(address, (short) value);
        } catch (DmaFault fault) {
            throw new QueueException(what + ": " + fault.getMessage(), fault);
        }
    }
}
