package io.vmguard.virtio;

import java.lang.foreign.MemorySegment;

/** Reads of a device's configuration space, kept as bytes: any offset and width, zeroes past the end. */
public final class ConfigSpace {
    private ConfigSpace() {}

    /** Copies what {@code config} holds at {@code offset} into {@code data}; bytes beyond it read as zero. */
    public static void read(MemorySegment config, long offset, MemorySegment data) {
        data.fill((byte) 0);
        if (offset >= 0 && offset < config.byteSize()) {
            MemorySegment.copy(config, offset, data, 0, Math.min(data.byteSize(), config.byteSize() - offset));
        }
    }
}
