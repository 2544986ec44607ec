package io.vmguard.devices.legacy;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A device made of byte-wide registers, as every device on the PC's 8-bit ISA bus is.
 *
 * <p>A wider access is split into byte accesses at consecutive offsets, lowest byte first, which is what
 * the chipset does for an 8-bit device: an {@code outw} to the CMOS index port writes the index and then
 * the data, as old firmware expects. Each byte access is atomic; the access as a whole is not, no more
 * than on hardware.
 */
interface ByteRegisters extends BusDevice {
    /** Reads the byte register at {@code offset}; returns 0-255. */
    int readRegister(long offset);

    /** Writes {@code value} (0-255) to the byte register at {@code offset}. */
    void writeRegister(long offset, int value);

    @Override
    default void read(long offset, MemorySegment data) {
        for (long i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) readRegister(offset + i));
        }
    }

    @Override
    default void write(long offset, MemorySegment data) {
        for (long i = 0; i < data.byteSize(); i++) {
            writeRegister(offset + i, Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, i)));
        }
    }
}
