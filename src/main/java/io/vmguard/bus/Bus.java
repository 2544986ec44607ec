package io.vmguard.bus;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;

/**
 * An address space of devices: port I/O or MMIO. Ranges never overlap (checked at registration), so an
 * access is dispatched to at most one device by a floor lookup.
 *
 * <p>Like a PC's buses, an access nobody claims reads as all ones and its writes are dropped; so is an
 * access that straddles the end of a device's range. A guest probing for absent hardware must see
 * "nothing there", not crash the VMM.
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

    /** Dispatches a read; returns false (and fills {@code data} with 0xff) when no device claims it. */
    public boolean read(long address, MemorySegment data) {
        Entry entry = find(address, data.byteSize());
        if (entry == null) {
            data.fill((byte) 0xff);
            return false;
        }
        entry.device().read(address - entry.range().base(), data);
        return true;
    }

    /** Dispatches a write; returns false when no device claims it (the write is dropped). */
    public boolean write(long address, MemorySegment data) {
        Entry entry = find(address, data.byteSize());
        if (entry == null) {
            return false;
        }
        entry.device().write(address - entry.range().base(), data);
        return true;
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
