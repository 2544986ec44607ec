package io.vmguard.seal;

import io.vmguard.tpm.Swtpm;
import io.vmguard.tpm.TpmCodec;
import io.vmguard.tpm.TpmException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The owner's TPM that seals vmguard's data keys: a swtpm of its own (never the guest's, which the guest
 * may clear), its state in the owner's directory ({@code --seal DIR}), started for each seal or unseal and
 * stopped after. A key is sealed as a data object under the owner hierarchy's storage root key, so only this
 * TPM (its seed) unseals it, and only with the authorisation value it was sealed with.
 *
 * <p>Limits, said plainly: a software TPM protects keys only as well as its state directory is protected
 * (whoever copies DIR and the snapshot has both halves); the host's /dev/tpmrm0 would keep the seed in
 * hardware, and is not used yet.
 */
public final class SealingTpm {
    public static final int KEY_BYTES = 32;
    private static final int RC_RETRY = 0x922;

    private final Path stateDirectory;
    private final byte[] authValue;

    /** {@code authValue}: the owner's secret the key is bound to (at most 32 bytes; may be empty). */
    public SealingTpm(Path stateDirectory, byte[] authValue) {
        if (authValue.length > 32) {
            throw new IllegalArgumentException("an authorisation value is at most 32 bytes");
        }
        this.stateDirectory = stateDirectory;
        this.authValue = authValue.clone();
    }

    /** Seals {@code key} (32 bytes). */
    public SealedKey seal(byte[] key) throws SealException {
        try (Swtpm tpm = power()) {
            int root = TpmCodec.handle(call(tpm, TpmCodec.createStorageRoot(), "TPM2_CreatePrimary"));
            try {
                List<byte[]> parts = TpmCodec.sizedParameters(call(tpm, TpmCodec.createSealed(root, key, authValue), "TPM2_Create"), 2);
                return new SealedKey(parts.get(0), parts.get(1));
            } finally {
                tpm.execute(TpmCodec.flush(root));
            }
        } catch (TpmException | IOException e) {
            throw new SealException("cannot seal the data key with the TPM in " + stateDirectory + ": " + e.getMessage(), e);
        }
    }

    /** The key {@code sealed} holds; fails in one line for another TPM, another authorisation value, or modified parts. */
    public byte[] unseal(SealedKey sealed) throws SealException {
        try (Swtpm tpm = power()) {
            int root = TpmCodec.handle(call(tpm, TpmCodec.createStorageRoot(), "TPM2_CreatePrimary"));
            try {
                byte[] loaded = tpm.execute(TpmCodec.load(root, sealed.privatePart(), sealed.publicPart()));
                if (TpmCodec.responseCode(loaded) != TpmCodec.RC_SUCCESS) {
                    throw new SealException("the data key was sealed by another TPM than the one in " + stateDirectory
                            + " (or its sealed parts were modified): TPM2_Load answered 0x" + Integer.toHexString(TpmCodec.responseCode(loaded)));
                }
                int object = TpmCodec.handle(loaded);
                try {
                    byte[] response = tpm.execute(TpmCodec.unseal(object, authValue));
                    if (TpmCodec.responseCode(response) == RC_RETRY) {
                        response = tpm.execute(TpmCodec.unseal(object, authValue));
                    }
                    if (TpmCodec.responseCode(response) != TpmCodec.RC_SUCCESS) {
                        throw new SealException("the TPM refused to unseal the data key (another authorisation value?): TPM2_Unseal answered 0x"
                                + Integer.toHexString(TpmCodec.responseCode(response)));
                    }
                    byte[] key = TpmCodec.sizedParameters(response, 1).getFirst();
                    if (key.length != 2 + KEY_BYTES) {
                        throw new SealException("the unsealed data key has " + (key.length - 2) + " bytes, not " + KEY_BYTES);
                    }
                    return java.util.Arrays.copyOfRange(key, 2, key.length);
                } finally {
                    tpm.execute(TpmCodec.flush(object));
                }
            } finally {
                tpm.execute(TpmCodec.flush(root));
            }
        } catch (TpmException | IOException e) {
            throw new SealException("cannot unseal with the TPM in " + stateDirectory + ": " + e.getMessage(), e);
        }
    }

    private Swtpm power() throws TpmException, IOException {
        Swtpm tpm = Swtpm.start(stateDirectory);
        try {
            tpm.powerOn();
            int code = TpmCodec.responseCode(tpm.execute(TpmCodec.startupClear()));
            if (code != TpmCodec.RC_SUCCESS) {
                throw new TpmException("TPM2_Startup answered 0x" + Integer.toHexString(code));
            }
            return tpm;
        } catch (TpmException | IOException e) {
            tpm.close();
            throw e;
        }
    }

    private static byte[] call(Swtpm tpm, byte[] command, String what) throws IOException, TpmException {
        byte[] response = tpm.execute(command);
        if (TpmCodec.responseCode(response) == RC_RETRY) {
            response = tpm.execute(command);
        }
        int code = TpmCodec.responseCode(response);
        if (code != TpmCodec.RC_SUCCESS) {
            throw new TpmException(what + " answered 0x" + Integer.toHexString(code));
        }
        return response;
    }
}
