package io.vmguard.seal;

import io.vmguard.snapshot.Phases;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * A sealed snapshot's fresh data key, sealed by the owner's TPM on a thread of its own: the key is random, so
 * nothing waits for it, and the TPM's round trip (its session and TPM2_Create, 20-30 ms on standby) overlaps
 * the snapshot's key-independent work (the devices saving their state) instead of coming before it.
 * Whoever needs the sealed key waits in {@link #sealedKey()}; close wipes the key, after the seal has ended.
 */
public final class PendingDataKey implements AutoCloseable {
    private final byte[] key = new byte[SealingTpm.KEY_BYTES];
    private final FutureTask<SealedKey> sealing;

    private PendingDataKey(SealingTpm tpm, Phases phases) {
        new SecureRandom().nextBytes(key);
        byte[] toSeal = key.clone();
        this.sealing = new FutureTask<>(() -> {
            long t0 = System.nanoTime();
            try (Phases.Binding _ = phases != null ? phases.record() : () -> {}) {
                return tpm.seal(toSeal);
            } finally {
                Arrays.fill(toSeal, (byte) 0);
                Phases.add(phases, "save.key_seal", System.nanoTime() - t0);
            }
        });
        Thread.ofPlatform().name("vmguard-seal-key").daemon().start(sealing);
    }

    /** Makes a key and starts its seal by {@code tpm}; the phases go to the caller's recorder. */
    public static PendingDataKey start(SealingTpm tpm) {
        return new PendingDataKey(tpm, Phases.current());
    }

    /** The plain data key (this object's own copy: do not keep it past {@link #close}). */
    public byte[] key() {
        return key;
    }

    /** The key as the TPM sealed it, waiting for the seal; its failure in one line. */
    public SealedKey sealedKey() throws SealException {
        long t0 = System.nanoTime();
        try {
            return await();
        } finally {
            Phases.since("save.await_key_seal", t0);
        }
    }

    private SealedKey await() throws SealException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return sealing.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the seal holds the TPM: let it end
                } catch (ExecutionException e) {
                    switch (e.getCause()) {
                        case SealException sealFailed -> throw sealFailed;
                        case RuntimeException bug -> throw bug;
                        case Error error -> throw error;
                        default -> throw new IllegalStateException(e.getCause());
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Waits for the seal to end (whatever its outcome) and wipes the key. */
    @Override
    public void close() {
        try {
            await();
        } catch (SealException | RuntimeException e) {
            // Reported to whoever asked for the sealed key; a snapshot that never asked has failed already.
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }
}
