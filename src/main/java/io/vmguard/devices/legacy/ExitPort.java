package io.vmguard.devices.legacy;

import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import io.vmguard.devices.PowerControl;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * vmguard's power-off device: writing a byte ends the run with that byte as the status. It sits at port
 * 0xf4, where QEMU's {@code isa-debug-exit,iobase=0xf4} does, so one guest image runs on both (QEMU
 * turns the byte {@code v} into exit code {@code (v << 1) | 1}; what vmguard makes of it is the VMM's
 * affair). Reads return 0.
 */
public final class ExitPort implements BusDevice {
    /** One byte wide; a wider access straddles the range and the bus drops it. */
    public static final BusRange PORT = new BusRange(0xf4, 1);

    private final PowerControl power;

    public ExitPort(PowerControl power) {
        this.power = Objects.requireNonNull(power, "power");
    }

    @Override
    public void read(long offset, MemorySegment data) {
        data.fill((byte) 0);
    }

    /** Powers off with the low byte of the value written, whatever the width. */
    @Override
    public void write(long offset, MemorySegment data) {
        power.powerOff(Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, 0)));
    }
}
