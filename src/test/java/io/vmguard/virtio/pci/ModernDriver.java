package io.vmguard.virtio.pci;

import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The driver's side of a virtio-pci function, for tests: walks the capability list as Linux's
 * virtio_pci_modern probe does and then reaches the structures through the BARs the capabilities name,
 * with the widths a driver uses. Raw accesses of any width and offset are there for the odd-access tests.
 */
final class ModernDriver {
    /** One virtio vendor capability as found in config space. */
    record Capability(int position, int cfgType, int bar, long offset, long length) {}

    static final int MSIX_ENABLE = 1 << 15;

    private final PciDevice device;
    /** The first capability of each cfg_type, by type, as virtio_pci_find_capability returns it. */
    private final Map<Integer, Capability> capabilities = new LinkedHashMap<>();
    private int msixPosition;

    ModernDriver(PciDevice device) {
        this.device = device;
        int position = device.readConfig(PciConfigSpace.CAPABILITIES_POINTER, 1);
        for (int hops = 0; position != 0 && hops < 48; hops++) {
            int id = device.readConfig(position, 1);
            if (id == 0x09) {
                int bar = device.readConfig(position + 4, 1);
                Capability capability = new Capability(position, device.readConfig(position + 3, 1), bar,
                        Integer.toUnsignedLong(device.readConfig(position + 8, 4)),
                        Integer.toUnsignedLong(device.readConfig(position + 12, 4)));
                if (bar < PciConfigSpace.BAR_COUNT) {
                    capabilities.putIfAbsent(capability.cfgType(), capability);
                }
            } else if (id == 0x11) {
                msixPosition = position;
            }
            position = device.readConfig(position + 1, 1);
        }
    }

    Map<Integer, Capability> capabilities() {
        return capabilities;
    }

    Capability capability(int cfgType) {
        Capability capability = capabilities.get(cfgType);
        if (capability == null) {
            throw new AssertionError("no virtio capability of type " + cfgType);
        }
        return capability;
    }

    int msixPosition() {
        return msixPosition;
    }

    int notifyOffMultiplier() {
        return device.readConfig(capability(VirtioCapabilities.NOTIFY_CFG).position() + 16, 4);
    }

    // ---- structures ----

    long common(int field, int size) {
        return barRead(capability(VirtioCapabilities.COMMON_CFG), field, size);
    }

    void common(int field, int size, long value) {
        barWrite(capability(VirtioCapabilities.COMMON_CFG), field, size, value);
    }

    int isr() {
        return (int) barRead(capability(VirtioCapabilities.ISR_CFG), 0, 1);
    }

    long deviceConfig(long offset, int size) {
        return barRead(capability(VirtioCapabilities.DEVICE_CFG), offset, size);
    }

    /** Linux's vp_notify: the queue index, 16 bits, at the queue's notification address. */
    void kick(int queue) {
        common(CommonConfig.QUEUE_SELECT, 2, queue);
        long notifyOff = common(CommonConfig.QUEUE_NOTIFY_OFF, 2);
        barWrite(capability(VirtioCapabilities.NOTIFY_CFG), notifyOff * notifyOffMultiplier(), 2, queue);
    }

    int status() {
        return (int) common(CommonConfig.DEVICE_STATUS, 1);
    }

    void status(int value) {
        common(CommonConfig.DEVICE_STATUS, 1, value);
    }

    void command(int bits) {
        device.writeConfig(PciConfigSpace.COMMAND, 2, bits);
    }

    /** MSI-X on (message control's enable bit, function unmasked) or off. */
    void msix(boolean enabled) {
        device.writeConfig(msixPosition + 2, 2, enabled ? MSIX_ENABLE : 0);
    }

    /** Programs table entry {@code vector}, unmasked. */
    void msixEntry(int vector, long address, int data) {
        int tableBar = device.readConfig(msixPosition + 4, 4) & 7;
        long table = Integer.toUnsignedLong(device.readConfig(msixPosition + 4, 4) & ~7);
        long entry = table + 16L * vector;
        rawWrite(tableBar, entry, 4, address);
        rawWrite(tableBar, entry + 4, 4, address >>> 32);
        rawWrite(tableBar, entry + 8, 4, data);
        rawWrite(tableBar, entry + 12, 4, 0);
    }

    private long barRead(Capability capability, long offset, int size) {
        return rawRead(capability.bar(), capability.offset() + offset, size);
    }

    private void barWrite(Capability capability, long offset, int size, long value) {
        rawWrite(capability.bar(), capability.offset() + offset, size, value);
    }

    // ---- raw accesses ----

    long rawRead(int bar, long offset, int size) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        data.fill((byte) 0x5a); // a device that forgets to answer shows up
        device.readBar(bar, offset, data);
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = value << 8 | Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
        }
        return value;
    }

    void rawWrite(int bar, long offset, int size, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        for (int i = 0; i < size; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        device.writeBar(bar, offset, data);
    }
}
