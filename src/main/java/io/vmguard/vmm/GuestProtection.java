package io.vmguard.vmm;

import io.vmguard.memory.MemoryBackend;
import io.vmguard.seal.SealingTpm;
import java.util.Objects;
import java.util.Optional;

/**
 * What protects a guest beyond its devices (issue 16): a TPM 2.0 with the boot measured into it, and what
 * backs its RAM ({@link MemoryBackend#SECRET} keeps it out of every other process's reach, root's included), and
 * the owner's TPM that seals its snapshots ({@code --seal}: memory and state files encrypted with a key only
 * that TPM unseals).
 */
public record GuestProtection(Optional<TpmSettings> tpm, MemoryBackend memoryBackend, Optional<SealingTpm> seal) {
    public static final GuestProtection NONE = new GuestProtection(Optional.empty(), MemoryBackend.ANONYMOUS);

    public GuestProtection {
        Objects.requireNonNull(tpm, "tpm");
        Objects.requireNonNull(memoryBackend, "memoryBackend");
        Objects.requireNonNull(seal, "seal");
    }

    /** Without sealing. */
    public GuestProtection(Optional<TpmSettings> tpm, MemoryBackend memoryBackend) {
        this(tpm, memoryBackend, Optional.empty());
    }
}
