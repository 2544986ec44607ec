package io.vmguard.bus;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;

/**
 * An address space of devices: port I/O or MMIO. Ranges never overlap (checked at registration), so an
 * access is dispatched to at most one device by a floor lookup.
 *
 * <p>Like a PC's buses, an access nobody claims reads as all ones and its writes are dropped. An access
 * that crosses the end of a device's range (a guest's unaligned load at the edge of a BAR, say) is split
 * the way a bus splits it: each part goes to whoever owns it, as naturally aligned accesses of 1, 2, 4 or
 * 8 bytes, and the unowned parts read as all ones. A guest probing for absent hardware must see "nothing
 * there", not crash the VMM; a device only ever sees accesses that lie within its range.
 */
public final class Bus {
    private final String name;
    private final TreeMap<Long, Entry> devices = new TreeMap<>();

    private record Entry(BusRange range, BusDevice device) {}

    public Bus(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    public synchronized void register(BusRange range, BusDevice device) {
        // Ranges never overlap, so only the nearest device below and the nearest at or above can collide.
        rejectOverlap(devices.floorEntry(range.base()), range);
        rejectOverlap(devices.ceilingEntry(range.base()), range);
        devices.put(range.base(), new Entry(range, device));
    }

    private void rejectOverlap(Map.Entry<Long, Entry> neighbour, BusRange range) {
        if (neighbour != null && neighbour.getValue().range().overlaps(range)) {
            throw new BusOverlapException(name + " bus: " + range + " overlaps " + neighbour.getValue().range()
                    + " already registered");
        }
    }

    /**
     * Dispatches a read; returns false (and fills {@code data} with 0xff) when no device claims any of it.
     */
    public boolean read(long address, MemorySegment data) {
        Entry entry = whole(address, data.byteSize());
        if (entry != null) {
            entry.device().read(address - entry.range().base(), data);
            return true;
        }
        return splitAccess(address, data, false);
    }

    /** Dispatches a write; returns false when no device claims any of it (the write is dropped). */
    public boolean write(long address, MemorySegment data) {
        Entry entry = whole(address, data.byteSize());
        if (entry != null) {
            entry.device().write(address - entry.range().base(), data);
            return true;
        }
        return splitAccess(address, data, true);
    }

    /** An access no single device holds: byte by byte it belongs to a device or to nobody; see the class doc. */
    private boolean splitAccess(long address, MemorySegment data, boolean write) {
        long size = data.byteSize();
        boolean claimed = false;
        for (long done = 0; done < size; ) {
            long at = address + done;
            Entry owner = owner(at);
            // This part runs to the end of the access, of the owner's range, or to the next device's start.
            long limit = address + size;
            if (owner != null) {
                limit = Math.min(limit, owner.range().end());
            } else {
                Long next = nextBase(at);
                if (next != null) {
                    limit = Math.min(limit, next);
                }
            }
            for (long part = at; part < limit; ) {
                int piece = piece(part, limit - part);
                MemorySegment slice = data.asSlice(part - address, piece);
                if (owner == null) {
                    if (!write) {
                        slice.fill((byte) 0xff);
                    }
                } else if (write) {
                    owner.device().write(part - owner.range().base(), slice);
                } else {
                    owner.device().read(part - owner.range().base(), slice);
                }
                part += piece;
            }
            claimed |= owner != null;
            done = limit - address;
        }
        return claimed;
    }

    /**
     * The width of the next piece when an access of {@code remaining} bytes at {@code address} is split the
     * way a bus splits it: the largest naturally aligned 1, 2, 4 or 8 bytes that fit.
     */
    public static int piece(long address, long remaining) {
        int size = 8;
        while (size > remaining || (address & (size - 1)) != 0) {
            size >>>= 1;
        }
        return size;
    }

    /** The device that takes this access as it is: one naturally aligned piece inside its range; else null. */
    private Entry whole(long address, long size) {
        return piece(address, size) == size ? find(address, size) : null;
    }

    private Entry owner(long address) {
        return find(address, 1);
    }

    private synchronized Long nextBase(long address) {
        return devices.higherKey(address);
    }

    private Entry find(long address, long size) {
        Map.Entry<Long, Entry> candidate;
        synchronized (this) {
            candidate = devices.floorEntry(address);
        }
        if (candidate == null || !candidate.getValue().range().contains(address, size)) {
            return null;
        }
        return candidate.getValue();
    }
}
