package io.vmguard.testing;

import io.vmguard.bus.Bus;
import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;

/** A guest's loads and stores of 1 to 8 bytes, little-endian, through a bus or straight at one device. */
public final class GuestAccess {
    private GuestAccess() {}

    public static long read(Bus bus, long address, int size) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        bus.read(address, data);
        return RecordingDevice.load(data);
    }

    public static void write(Bus bus, long address, int size, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        RecordingDevice.store(data, value);
        bus.write(address, data);
    }

    public static long read(BusDevice device, long offset, int size) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        device.read(offset, data);
        return RecordingDevice.load(data);
    }

    public static void write(BusDevice device, long offset, int size, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        RecordingDevice.store(data, value);
        device.write(offset, data);
    }
}
