package io.vmguard.seal;

import io.vmguard.tpm.Swtpm;
import io.vmguard.tpm.TpmCodec;
import io.vmguard.tpm.TpmException;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * The owner's TPM that seals vmguard's data keys: a swtpm of its own (never the guest's, which the guest
 * may clear), its state in the owner's directory ({@code --seal DIR}), started for each seal or unseal and
 * stopped after. A key is sealed as a data object under the owner hierarchy's storage root key, so only this
 * TPM (its seed) unseals it, and only with the authorisation value it was sealed with.
 *
 * <p>With PCRs named ({@code --seal-pcrs}), the key is bound to a policy instead: TPM2_PolicyPCR over those
 * SHA-256 PCRs as they were when it was sealed, then TPM2_PolicyAuthValue (the authorisation value, which
 * may be empty); it unseals only in a policy session that meets both, so an extended PCR locks it out. The
 * TPM keeps its PCRs across the power cycles here: each use ends with TPM2_Shutdown(STATE) and starts with
 * TPM2_Startup(STATE) (TPM2_Startup(CLEAR), PCRs zero, when there is no saved state, as after a crash).
 *
 * <p>Limits, said plainly: a software TPM protects keys only as well as its state directory is protected
 * (whoever copies DIR and the snapshot has both halves); the host's /dev/tpmrm0 would keep the seed in
 * hardware, and is not used yet.
 */
public final class SealingTpm {
    public static final int KEY_BYTES = 32;
    private static final int RC_RETRY = 0x922;
    /** TPM_RC_POLICY_FAIL for the first authorisation session: the session's policy digest is not the object's. */
    private static final int RC_POLICY_FAIL = 0x99d;

    private final Path stateDirectory;
    private final byte[] authValue;
    private final int pcrs;

    /** {@code authValue}: the owner's secret the key is bound to (at most 32 bytes; may be empty). */
    public SealingTpm(Path stateDirectory, byte[] authValue) {
        this(stateDirectory, authValue, 0);
    }

    /** As above, and bound to the SHA-256 PCRs in {@code pcrs} (bit n = PCR n, 0-15; 0 for none) too. */
    public SealingTpm(Path stateDirectory, byte[] authValue, int pcrs) {
        if (authValue.length > 32) {
            throw new IllegalArgumentException("an authorisation value is at most 32 bytes");
        }
        if ((pcrs & ~PcrSelection.ALLOWED) != 0) {
            throw new IllegalArgumentException("only PCRs 0-15 can bind a sealed key");
        }
        this.stateDirectory = stateDirectory;
        this.authValue = authValue.clone();
        this.pcrs = pcrs;
    }

    /** Extends SHA-256 PCR {@code pcr} (0-15) of the owner's TPM with {@code digest}: keys bound to it no longer unseal. */
    public void extend(int pcr, byte[] digest) throws SealException {
        if (pcr < 0 || pcr > 15) {
            throw new IllegalArgumentException("PCR " + pcr + " cannot bind a key (0-15 only)");
        }
        try (Powered tpm = power()) {
            call(tpm.swtpm(), TpmCodec.pcrExtend(pcr, digest), "TPM2_PCR_Extend");
        } catch (TpmException | IOException e) {
            throw new SealException("cannot extend PCR " + pcr + " of the TPM in " + stateDirectory + ": " + e.getMessage(), e);
        }
    }

    /** Seals {@code key} (32 bytes). */
    public SealedKey seal(byte[] key) throws SealException {
        try (Powered powered = power()) {
            Swtpm tpm = powered.swtpm();
            int root = TpmCodec.handle(call(tpm, TpmCodec.createStorageRoot(), "TPM2_CreatePrimary"));
            try {
                byte[] create = pcrs == 0 ? TpmCodec.createSealed(root, key, authValue)
                        : TpmCodec.createPolicySealed(root, key, authValue, TpmCodec.pcrPolicy(pcrs, pcrValues(tpm)));
                List<byte[]> parts = TpmCodec.sizedParameters(call(tpm, create, "TPM2_Create"), 2);
                return new SealedKey(parts.get(0), parts.get(1), pcrs);
            } finally {
                tpm.execute(TpmCodec.flush(root));
            }
        } catch (TpmException | IOException e) {
            throw new SealException("cannot seal the data key with the TPM in " + stateDirectory + ": " + e.getMessage(), e);
        }
    }

    /** The key {@code sealed} holds; fails in one line for another TPM, another authorisation value, or modified parts. */
    public byte[] unseal(SealedKey sealed) throws SealException {
        try (Powered powered = power()) {
            Swtpm tpm = powered.swtpm();
            int root = TpmCodec.handle(call(tpm, TpmCodec.createStorageRoot(), "TPM2_CreatePrimary"));
            try {
                byte[] loaded = tpm.execute(TpmCodec.load(root, sealed.privatePart(), sealed.publicPart()));
                if (TpmCodec.responseCode(loaded) != TpmCodec.RC_SUCCESS) {
                    throw new SealException("the data key was sealed by another TPM than the one in " + stateDirectory
                            + " (or its sealed parts were modified): TPM2_Load answered 0x" + Integer.toHexString(TpmCodec.responseCode(loaded)));
                }
                int object = TpmCodec.handle(loaded);
                try {
                    byte[] response = sealed.pcrs() == 0 ? unsealWithPassword(tpm, object) : unsealWithPolicy(tpm, object, sealed);
                    if (TpmCodec.responseCode(response) == RC_POLICY_FAIL) {
                        throw new SealException("the owner's TPM PCRs " + PcrSelection.pcrs(sealed.pcrs())
                                + " differ from when the data key was sealed (a changed policy): TPM2_Unseal answered 0x"
                                + Integer.toHexString(RC_POLICY_FAIL));
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

    private byte[] unsealWithPassword(Swtpm tpm, int object) throws IOException {
        byte[] response = tpm.execute(TpmCodec.unseal(object, authValue));
        return TpmCodec.responseCode(response) == RC_RETRY ? tpm.execute(TpmCodec.unseal(object, authValue)) : response;
    }

    /**
     * Unseals in a fresh policy session: TPM2_PolicyPCR over the key's PCRs as they are now, then
     * TPM2_PolicyAuthValue, and TPM2_Unseal with the session's HMAC keyed by the authorisation value (which
     * so never crosses the socket). The TPM compares the session's digest with the object's policy in Unseal.
     */
    private byte[] unsealWithPolicy(Swtpm tpm, int object, SealedKey sealed) throws IOException, TpmException {
        SecureRandom random = new SecureRandom();
        byte[] nonce = new byte[16];
        random.nextBytes(nonce);
        byte[] started = call(tpm, TpmCodec.startPolicySession(nonce), "TPM2_StartAuthSession");
        int session = TpmCodec.handle(started);
        try {
            byte[] nonceTpm = TpmCodec.sessionNonce(started);
            call(tpm, TpmCodec.policyPcr(session, sealed.pcrs()), "TPM2_PolicyPCR");
            call(tpm, TpmCodec.policyAuthValue(session), "TPM2_PolicyAuthValue");
            random.nextBytes(nonce);
            return tpm.execute(TpmCodec.unsealInPolicySession(object, sealed.publicPart(), session, nonceTpm, nonce, authValue));
        } finally {
            tpm.execute(TpmCodec.flush(session)); // gone already after a successful Unseal (continueSession clear): harmless
        }
    }

    private List<byte[]> pcrValues(Swtpm tpm) throws IOException, TpmException {
        List<byte[]> values = new ArrayList<>();
        for (int pcr : PcrSelection.pcrs(pcrs)) {
            List<byte[]> one = TpmCodec.pcrValues(tpm.execute(TpmCodec.pcrRead(List.of(pcr))));
            if (one.size() != 1) {
                throw new TpmException("TPM2_PCR_Read of PCR " + pcr + " returned " + one.size() + " values");
            }
            values.add(one.getFirst());
        }
        return values;
    }

    /** The owner's TPM, powered on; closing it saves its state (PCRs) with TPM2_Shutdown(STATE) and stops swtpm. */
    private record Powered(Swtpm swtpm) implements AutoCloseable {
        @Override
        public void close() {
            try {
                swtpm.execute(TpmCodec.shutdownState());
            } catch (IOException e) {
                // swtpm is gone: the next power-on starts with TPM2_Startup(CLEAR)
            }
            swtpm.close();
        }
    }

    private Powered power() throws TpmException, IOException {
        Swtpm tpm = Swtpm.start(stateDirectory);
        try {
            tpm.powerOn();
            // A resume keeps PCRs 0-15 as the last use left them; without a saved state (first use, a crash) a reset.
            int code = TpmCodec.responseCode(tpm.execute(TpmCodec.startupState()));
            if (code != TpmCodec.RC_SUCCESS) {
                code = TpmCodec.responseCode(tpm.execute(TpmCodec.startupClear()));
            }
            if (code != TpmCodec.RC_SUCCESS) {
                throw new TpmException("TPM2_Startup answered 0x" + Integer.toHexString(code));
            }
            return new Powered(tpm);
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
