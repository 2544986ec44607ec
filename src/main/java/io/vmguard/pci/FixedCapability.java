package io.vmguard.pci;

import java.util.Arrays;

/**
 * A capability whose body is constant and read-only, such as the virtio-pci vendor capabilities
 * (common, notify, ISR and device configuration locations). {@code body} is everything after the ID and
 * next pointer; for a vendor-specific capability its first byte is the capability's length.
 */
public final class FixedCapability implements PciCapability {
    private final int id;
    private final byte[] body;

    public FixedCapability(int id, byte[] body) {
        if (id < 0 || id > 0xff) {
            throw new IllegalArgumentException("capability ID out of range: " + id);
        }
        if (body.length + 2 > PciConfigSpace.CAPABILITY_SPACE) {
            throw new IllegalArgumentException("capability body too long: " + body.length);
        }
        this.id = id;
        this.body = body.clone();
    }

    @Override
    public int id() {
        return id;
    }

    @Override
    public int length() {
        return 2 + body.length;
    }

    @Override
    public int read(int offset, int size) {
        int value = 0;
        for (int i = 0; i < size; i++) {
            value |= Byte.toUnsignedInt(body[offset - 2 + i]) << (8 * i);
        }
        return value;
    }

    @Override
    public void write(int offset, int size, int value) {
        // read-only
    }

    @Override
    public String toString() {
        return "capability 0x" + Integer.toHexString(id) + " " + Arrays.toString(body);
    }
}
