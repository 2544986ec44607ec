package io.vmguard.iommu;

import io.vmguard.pci.PciDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * A virtio-pci driver's register accesses, as Linux's virtio_pci_modern makes them, for tests outside the
 * transport's package: finds the virtio capabilities in configuration space, then reads and writes the
 * common and device configuration and the notification area through the BAR they name.
 */
final class PciDriverSide {
    // virtio 1.2, 4.1.4.3: struct virtio_pci_common_cfg
    static final int DEVICE_FEATURE_SELECT = 0x00;
    static final int DEVICE_FEATURE = 0x04;
    static final int DRIVER_FEATURE_SELECT = 0x08;
    static final int DRIVER_FEATURE = 0x0c;
    static final int DEVICE_STATUS = 0x14;
    static final int QUEUE_SELECT = 0x16;
    static final int QUEUE_SIZE = 0x18;
    static final int QUEUE_ENABLE = 0x1c;
    static final int QUEUE_NOTIFY_OFF = 0x1e;
    static final int QUEUE_DESC = 0x20;
    static final int QUEUE_DRIVER = 0x28;
    static final int QUEUE_DEVICE = 0x30;
    private static final int COMMON_CFG = 1;
    private static final int NOTIFY_CFG = 2;
    private static final int DEVICE_CFG = 4;

    private record Capability(int position, int bar, long offset) {}

    private final PciDevice device;
    private final Map<Integer, Capability> capabilities = new HashMap<>();

    PciDriverSide(PciDevice device) {
        this.device = device;
        int position = device.readConfig(0x34, 1);
        for (int hops = 0; position != 0 && hops < 48; hops++) {
            if (device.readConfig(position, 1) == 0x09) {
                capabilities.putIfAbsent(device.readConfig(position + 3, 1), new Capability(position,
                        device.readConfig(position + 4, 1), Integer.toUnsignedLong(device.readConfig(position + 8, 4))));
            }
            position = device.readConfig(position + 1, 1);
        }
        device.writeConfig(0x04, 2, 0x6); // memory space and bus mastering on
    }

    long common(int field, int size) {
        return read(capabilities.get(COMMON_CFG), field, size);
    }

    void common(int field, int size, long value) {
        write(capabilities.get(COMMON_CFG), field, size, value);
    }

    long deviceConfig(int offset, int size) {
        return read(capabilities.get(DEVICE_CFG), offset, size);
    }

    void deviceConfig(int offset, int size, long value) {
        write(capabilities.get(DEVICE_CFG), offset, size, value);
    }

    long deviceFeatures() {
        common(DEVICE_FEATURE_SELECT, 4, 0);
        long low = common(DEVICE_FEATURE, 4);
        common(DEVICE_FEATURE_SELECT, 4, 1);
        return common(DEVICE_FEATURE, 4) << 32 | low;
    }

    void driverFeatures(long features) {
        common(DRIVER_FEATURE_SELECT, 4, 0);
        common(DRIVER_FEATURE, 4, features & 0xffff_ffffL);
        common(DRIVER_FEATURE_SELECT, 4, 1);
        common(DRIVER_FEATURE, 4, features >>> 32);
    }

    void queue(int index, int size, long descriptors, long driver, long deviceArea) {
        common(QUEUE_SELECT, 2, index);
        common(QUEUE_SIZE, 2, size);
        address(QUEUE_DESC, descriptors);
        address(QUEUE_DRIVER, driver);
        address(QUEUE_DEVICE, deviceArea);
        common(QUEUE_ENABLE, 2, 1);
    }

    void kick(int queue) {
        common(QUEUE_SELECT, 2, queue);
        long notifyOff = common(QUEUE_NOTIFY_OFF, 2);
        Capability notify = capabilities.get(NOTIFY_CFG);
        long multiplier = device.readConfig(notify.position() + 16, 4);
        write(notify, notifyOff * multiplier, 2, queue);
    }

    private void address(int field, long address) {
        common(field, 4, address & 0xffff_ffffL);
        common(field + 4, 4, address >>> 32);
    }

    private long read(Capability capability, long offset, int size) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        device.readBar(capability.bar(), capability.offset() + offset, data);
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = value << 8 | Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
        }
        return value;
    }

    private void write(Capability capability, long offset, int size, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        for (int i = 0; i < size; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        device.writeBar(capability.bar(), capability.offset() + offset, data);
    }
}
