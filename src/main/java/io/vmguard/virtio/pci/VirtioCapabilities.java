package io.vmguard.virtio.pci;

import io.vmguard.pci.FixedCapability;
import io.vmguard.pci.PciCapability;

/**
 * The vendor-specific capabilities that tell a driver where the virtio structures are (virtio 1.2, section
 * 4.1.4, struct virtio_pci_cap): after the ID and next pointer, cap_len, cfg_type, bar, id, two bytes of
 * padding, then the structure's offset and length in the BAR, all little-endian.
 */
final class VirtioCapabilities {
    static final int COMMON_CFG = 1;
    static final int NOTIFY_CFG = 2;
    static final int ISR_CFG = 3;
    static final int DEVICE_CFG = 4;
    static final int PCI_CFG = 5;

    /** Bytes of struct virtio_pci_cap; the notify capability adds notify_off_multiplier. */
    static final int CAP_LENGTH = 16;
    static final int NOTIFY_CAP_LENGTH = 20;

    private VirtioCapabilities() {}

    /** A capability pointing at the structure of {@code cfgType} at {@code offset}, {@code length} bytes, in {@code bar}. */
    static FixedCapability structure(int cfgType, int bar, long offset, long length) {
        return new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, body(CAP_LENGTH, cfgType, bar, offset, length));
    }

    /** The notification capability: as {@link #structure}, plus the multiplier for queue_notify_off. */
    static FixedCapability notify(int bar, long offset, long length, int multiplier) {
        byte[] body = body(NOTIFY_CAP_LENGTH, NOTIFY_CFG, bar, offset, length);
        putInt(body, 14, multiplier);
        return new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, body);
    }

    /** The body after ID and next: the capability's total length first, as for every vendor capability. */
    private static byte[] body(int capLength, int cfgType, int bar, long offset, long length) {
        byte[] body = new byte[capLength - 2];
        body[0] = (byte) capLength;
        body[1] = (byte) cfgType;
        body[2] = (byte) bar;
        // body[3] (id) and the padding stay 0: one structure of each type.
        putInt(body, 6, (int) offset);
        putInt(body, 10, (int) length);
        return body;
    }

    private static void putInt(byte[] bytes, int at, int value) {
        for (int i = 0; i < 4; i++) {
            bytes[at + i] = (byte) (value >>> (8 * i));
        }
    }
}
