package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The boot loader's RNG seed for Linux: one {@code struct setup_data} of type {@code SETUP_RNG_SEED}
 * (arch/x86/include/uapi/asm/setup_data.h) with 32 bytes from the host, as QEMU passes for a Linux boot.
 * Linux mixes it into its input pool and, unless {@code random.trust_bootloader=off}, credits all 256 bits,
 * so the crng is ready before the first initcall, then zeroes the seed in guest memory. Without it the crng
 * waits for virtio-rng's first bytes, late in the boot, and until then every {@code get_random_u32} (one per
 * inode the initramfs unpacking makes, for example) extracts from the input pool anew: several BLAKE2s
 * compressions of cold code each, and values drawn only from the timestamp counter.
 */
final class RngSeed {
    static final int SETUP_RNG_SEED = 9;
    static final int SEED_BYTES = 32;
    /** {@code next} (u64), {@code type} (u32) and {@code len} (u32) before the data. */
    static final int HEADER_BYTES = 16;

    private RngSeed() {}

    /** Writes the seed at {@code address} as the last entry of a setup_data list. */
    static void writeTo(GuestMemory memory, long address, InputStream entropy) throws KernelLoadException {
        byte[] seed;
        try {
            seed = entropy.readNBytes(SEED_BYTES);
        } catch (IOException e) {
            throw new KernelLoadException("cannot read the guest's RNG seed from the host: " + e.getMessage());
        }
        if (seed.length < SEED_BYTES) {
            throw new KernelLoadException("cannot read the guest's RNG seed from the host: the source ended");
        }
        ByteBuffer entry = ByteBuffer.allocate(HEADER_BYTES + SEED_BYTES).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(0).putInt(SETUP_RNG_SEED).putInt(SEED_BYTES).put(seed);
        memory.write(address, entry.array());
    }
}
