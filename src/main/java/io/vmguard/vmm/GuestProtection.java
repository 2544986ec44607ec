package io.vmguard.vmm;

import io.vmguard.memory.MemoryBackend;
import java.util.Objects;
import java.util.Optional;

/**
 * What protects a guest beyond its devices (issue 16): a TPM 2.0 with the boot measured into it, and what
 * backs its RAM ({@link MemoryBackend#SECRET} keeps it out of every other process's reach, root's included).
 */
public record GuestProtection(Optional<TpmSettings> tpm, MemoryBackend memoryBackend) {
    public static final GuestProtection NONE = new GuestProtection(Optional.empty(), MemoryBackend.ANONYMOUS);

    public GuestProtection {
        Objects.requireNonNull(tpm, "tpm");
        Objects.requireNonNull(memoryBackend, "memoryBackend");
    }
}
