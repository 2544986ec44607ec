package io.vmguard.pci;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;

/**
 * Configuration mechanism 1 at ports 0xCF8-0xCFF: a dword address register (enable bit 31, bus 23:16,
 * device 15:11, function 10:8, dword register 7:2) and a data window whose four ports are the four bytes
 * of that dword, read or written as bytes, words or the whole dword.
 *
 * <p>Only a dword access at 0xCF8 reaches the address register; other accesses to 0xCF8-0xCFB read all
 * ones and are dropped (Linux's probe for mechanism 2 writes bytes there and must find nothing). While
 * the enable bit is clear the data window is not a configuration access at all: all ones, dropped. Bits
 * 30:24 are reserved (AMD's extended register bits are not offered) and bits 1:0 read 0, so through the
 * ports only the conventional 256 bytes are reachable; ECAM reaches the rest.
 */
final class ConfigPorts implements BusDevice {
    private static final int DATA = 4;
    private static final int ENABLE = 1 << 31;
    private static final int ADDRESS_BITS = ENABLE | 0x00ff_fffc;

    private final PciRoot root;
    /** One register for every vCPU, as on hardware; the guest serialises its use (Linux holds a lock). */
    private volatile int address;

    ConfigPorts(PciRoot root) {
        this.root = root;
    }

    @Override
    public void read(long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        if (offset == 0 && size == 4) {
            Bytes.store(data, address);
        } else if (offset >= DATA && (address & ENABLE) != 0) {
            int a = address;
            Bytes.store(data, root.readConfig(bus(a), device(a), function(a), register(a, offset), size));
        } else {
            data.fill((byte) 0xff);
        }
    }

    @Override
    public void write(long offset, MemorySegment data) {
        int size = (int) data.byteSize();
        if (offset == 0 && size == 4) {
            address = (int) Bytes.load(data) & ADDRESS_BITS;
        } else if (offset >= DATA && (address & ENABLE) != 0) {
            int a = address;
            root.writeConfig(bus(a), device(a), function(a), register(a, offset), size, (int) Bytes.load(data));
        }
    }

    /** The address register, for snapshots. */
    int address() {
        return address;
    }

    /** Whether {@code value} is something the address register can hold. */
    static boolean validAddress(int value) {
        return (value & ~ADDRESS_BITS) == 0;
    }

    void restoreAddress(int value) {
        address = value;
    }

    private static int bus(int address) {
        return (address >>> 16) & 0xff;
    }

    private static int device(int address) {
        return (address >>> 11) & 0x1f;
    }

    private static int function(int address) {
        return (address >>> 8) & 7;
    }

    /** The dword register plus the byte within it that the data port names. */
    private static int register(int address, long offset) {
        return (address & 0xfc) + (int) (offset - DATA);
    }
}
