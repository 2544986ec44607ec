package io.vmguard.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.Bus;
import java.lang.foreign.MemorySegment;

/** {@code in}/{@code out} on a port bus, failing the test when no device claims the port. */
final class PortIo {
    final Bus bus = new Bus("io");

    void outb(long port, int value) {
        out(port, new byte[] {(byte) value});
    }

    void outw(long port, int value) {
        out(port, new byte[] {(byte) value, (byte) (value >>> 8)});
    }

    int inb(long port) {
        byte[] data = new byte[1];
        assertTrue(bus.read(port, MemorySegment.ofArray(data)), () -> "nothing at port 0x" + Long.toHexString(port));
        return Byte.toUnsignedInt(data[0]);
    }

    boolean claimed(long port) {
        return bus.read(port, MemorySegment.ofArray(new byte[1]));
    }

    private void out(long port, byte[] data) {
        assertTrue(bus.write(port, MemorySegment.ofArray(data)), () -> "nothing at port 0x" + Long.toHexString(port));
    }
}
