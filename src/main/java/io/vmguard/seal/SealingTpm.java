package io.vmguard.seal;

import io.vmguard.snapshot.Phases;
import io.vmguard.tpm.SessionCrypto;
import io.vmguard.tpm.Swtpm;
import io.vmguard.tpm.TpmChannel;
import io.vmguard.tpm.TpmCodec;
import io.vmguard.tpm.TpmDevice;
import io.vmguard.tpm.TpmException;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;

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
 * <p>Starting swtpm (a process, its sockets) is most of what a use costs on a loaded host, so it can be done
 * ahead: {@link #prestart} starts the next use's swtpm in the background (a restore does while it reads its
 * files), and {@link #keepStandby} (a server) keeps one started at all times. A swtpm on standby is only
 * started and connected: it is not powered on and has not read the state with TPM2_Startup, so the PCRs'
 * saved state is untouched until a use begins, and a crash meanwhile costs nothing. Uses of one instance are
 * serialised (one swtpm at a time owns the state directory).
 *
 * <p>Or the host's TPM ({@code --seal-device /dev/tpmrm0}, {@link #onDevice}): the same commands, sessions and
 * policies, through the kernel's resource manager. The kernel owns that TPM's power cycle, so no
 * TPM2_Startup or TPM2_Shutdown is sent to it (its PCRs are the host's, as the host booted); each use opens
 * the device and closes it after, and the kernel flushes what the use left loaded. Nothing is started ahead.
 *
 * <p>Limits, said plainly: a software TPM protects keys only as well as its state directory is protected
 * (whoever copies DIR and the snapshot has both halves); a hardware TPM keeps its seed in the chip, so a
 * sealed snapshot copied off the host stays sealed.
 */
public final class SealingTpm {
    public static final int KEY_BYTES = 32;
    private static final int RC_RETRY = 0x922;
    /** TPM_RC_POLICY_FAIL for the first authorisation session: the session's policy digest is not the object's. */
    private static final int RC_POLICY_FAIL = 0x99d;

    private final Place place;
    private final byte[] authValue;
    private final int pcrs;
    /** Sees each command and its response as they cross swtpm's socket (tests record them). */
    private final BiConsumer<byte[], byte[]> wire;
    /** One use at a time: a second swtpm on the same state directory would overwrite the first one's state. */
    private final Object uses = new Object();
    /** The swtpm started for the next use, while it starts or once it has (guarded by this). */
    private CompletableFuture<Swtpm> standby;
    private volatile boolean keepStandby;

    /** {@code authValue}: the owner's secret the key is bound to (at most 32 bytes; may be empty). */
    public SealingTpm(Path stateDirectory, byte[] authValue) {
        this(stateDirectory, authValue, 0);
    }

    /** As above, and bound to the SHA-256 PCRs in {@code pcrs} (bit n = PCR n, 0-15; 0 for none) too. */
    public SealingTpm(Path stateDirectory, byte[] authValue, int pcrs) {
        this(new OwnerSwtpm(stateDirectory), authValue, pcrs);
    }

    /**
     * The TPM behind the character device at {@code device} (the host's {@code /dev/tpmrm0}), opened for each
     * use, with the same authorisation value and PCR binding as above (the PCRs are the host's).
     */
    public static SealingTpm onDevice(Path device, byte[] authValue, int pcrs) {
        return onDevice("the host TPM at " + device, () -> TpmDevice.open(device), authValue, pcrs);
    }

    /** A TPM device that {@code opener} opens for each use (tests: a swtpm in character-device mode); {@code name} for errors. */
    static SealingTpm onDevice(String name, DeviceOpener opener, byte[] authValue, int pcrs) {
        return new SealingTpm(new HostDevice(name, opener), authValue, pcrs);
    }

    private SealingTpm(Place place, byte[] authValue, int pcrs) {
        if (authValue.length > 32) {
            throw new IllegalArgumentException("an authorisation value is at most 32 bytes");
        }
        if ((pcrs & ~PcrSelection.ALLOWED) != 0) {
            throw new IllegalArgumentException("only PCRs 0-15 can bind a sealed key");
        }
        this.place = place;
        this.authValue = authValue.clone();
        this.pcrs = pcrs;
        this.wire = (command, response) -> {};
    }

    private SealingTpm(SealingTpm tpm, BiConsumer<byte[], byte[]> wire) {
        this.place = tpm.place;
        this.authValue = tpm.authValue;
        this.pcrs = tpm.pcrs;
        this.wire = wire;
    }

    /**
     * Starts the swtpm of the next use in the background, unless one is started already: a restore calls this
     * first thing, so swtpm comes up while it reads its files. A start that fails is retried by the use itself
     * (which then reports why).
     */
    public void prestart() {
        if (!(place instanceof OwnerSwtpm(Path stateDirectory))) {
            return; // a device is opened in microseconds: nothing to do ahead
        }
        CompletableFuture<Swtpm> started = new CompletableFuture<>();
        synchronized (this) {
            if (standby != null) {
                return;
            }
            standby = started;
        }
        Thread.ofPlatform().name("owner-tpm-standby").daemon().start(() -> {
            try {
                started.complete(Swtpm.start(stateDirectory));
            } catch (TpmException | RuntimeException e) {
                started.completeExceptionally(e);
            }
        });
    }

    /**
     * Keeps a swtpm on standby from now on (a server: a restore or snapshot through the API then pays neither
     * the process start nor its sockets); it is stopped when this JVM exits.
     */
    public void keepStandby() {
        if (!keepStandby) {
            keepStandby = true;
            Runtime.getRuntime().addShutdownHook(new Thread(this::closeStandby, "owner-tpm-standby-close"));
        }
        prestart();
    }

    /**
     * Stops a swtpm that {@link #prestart} started and no use took (a restore that failed before its unseal),
     * unless this instance keeps one on standby.
     */
    public void dropPrestarted() {
        if (!keepStandby) {
            Swtpm tpm = takeStandby();
            if (tpm != null) {
                tpm.close();
            }
        }
    }

    /** Stops keeping a swtpm on standby and stops the one waiting, if any (never powered on: nothing to save). */
    public void closeStandby() {
        keepStandby = false;
        Swtpm tpm = takeStandby();
        if (tpm != null) {
            tpm.close();
        }
    }

    /** The swtpm on standby, waited for if it is still starting; null if there is none or it failed to start. */
    private Swtpm takeStandby() {
        CompletableFuture<Swtpm> started;
        synchronized (this) {
            started = standby;
            standby = null;
        }
        if (started == null) {
            return null;
        }
        try {
            return started.join();
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
            return null;
        }
    }

    /** This TPM with every command and response shown to {@code wire} as it crosses the socket (tests). */
    SealingTpm tapped(BiConsumer<byte[], byte[]> wire) {
        return new SealingTpm(this, wire);
    }

    /** Extends SHA-256 PCR {@code pcr} (0-15) of the owner's TPM with {@code digest}: keys bound to it no longer unseal. */
    public void extend(int pcr, byte[] digest) throws SealException {
        if (pcr < 0 || pcr > 15) {
            throw new IllegalArgumentException("PCR " + pcr + " cannot bind a key (0-15 only)");
        }
        synchronized (uses) {
            extendNow(pcr, digest);
        }
    }

    private void extendNow(int pcr, byte[] digest) throws SealException {
        try (Powered tpm = power()) {
            call(tpm.channel(), TpmCodec.pcrExtend(pcr, digest), "TPM2_PCR_Extend");
        } catch (TpmException | IOException e) {
            throw new SealException("cannot extend PCR " + pcr + " of " + place.description() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reaches a TPM device now with a harmless command (TPM2_GetRandom), so that a misnamed or unusable device
     * fails when vmguard starts rather than at its first snapshot. The owner's swtpm is not probed: starting
     * it costs a process, and its first use manufactures it.
     */
    public void probe() throws SealException {
        if (!(place instanceof HostDevice)) {
            return;
        }
        synchronized (uses) {
            try (Powered tpm = power()) {
                call(tpm.channel(), TpmCodec.getRandom(8), "TPM2_GetRandom");
            } catch (TpmException | IOException e) {
                throw new SealException("cannot use " + place.description() + ": " + e.getMessage(), e);
            }
        }
    }

    /** Seals {@code key} (32 bytes). */
    public SealedKey seal(byte[] key) throws SealException {
        synchronized (uses) {
            return sealNow(key);
        }
    }

    private SealedKey sealNow(byte[] key) throws SealException {
        try (Powered powered = power()) {
            TpmChannel tpm = powered.channel();
            long t0 = System.nanoTime();
            byte[] primary = call(tpm, TpmCodec.createStorageRoot(), "TPM2_CreatePrimary");
            Phases.since("tpm.storage_key", t0);
            int root = TpmCodec.handle(primary);
            try {
                byte[] parameters = pcrs == 0 ? TpmCodec.createSealedParameters(key, authValue)
                        : TpmCodec.createPolicySealedParameters(key, authValue, TpmCodec.pcrPolicy(pcrs, pcrValues(tpm)));
                try {
                    List<byte[]> parts = TpmCodec.sizedParameters(createInSaltedSession(tpm, root, primary, parameters), 2);
                    return new SealedKey(parts.get(0), parts.get(1), pcrs);
                } finally {
                    java.util.Arrays.fill(parameters, (byte) 0);
                }
            } finally {
                execute(tpm, TpmCodec.flush(root));
            }
        } catch (TpmException | IOException e) {
            throw new SealException("cannot seal the data key with " + place.description() + ": " + e.getMessage(), e);
        }
    }

    /**
     * TPM2_Create with its first parameter (the key and the authorisation value) encrypted: the storage root
     * key's authorisation (empty) is given in an HMAC session salted for that key, with the decrypt attribute,
     * so the TPM decrypts inSensitive itself (AES-128-CFB under the session key) and neither secret crosses
     * the socket in clear. Returns the response, its session HMAC checked.
     */
    private byte[] createInSaltedSession(TpmChannel tpm, int root, byte[] primary, byte[] parameters) throws IOException, TpmException {
        long t0 = System.nanoTime();
        SecureRandom random = new SecureRandom();
        byte[] nonceCaller = new byte[32];
        random.nextBytes(nonceCaller);
        List<byte[]> point = TpmCodec.storageRootPoint(primary);
        SessionCrypto.Salt salt = SessionCrypto.eccSalt(point.get(0), point.get(1));
        byte[] started = call(tpm, TpmCodec.startSaltedSession(root, nonceCaller, salt.encryptedSalt(), TpmCodec.SE_HMAC),
                "TPM2_StartAuthSession");
        int session = TpmCodec.handle(started);
        byte[] sessionKey = null;
        try {
            byte[] nonceTpm = TpmCodec.sessionNonce(started);
            sessionKey = SessionCrypto.sessionKey(salt.seed(), nonceTpm, nonceCaller);
            java.util.Arrays.fill(salt.seed(), (byte) 0);
            Phases.since("tpm.session", t0);
            long t1 = System.nanoTime();
            random.nextBytes(nonceCaller);
            // The first parameter's bytes after its size, encrypted with the caller's nonce the newer one.
            int sensitiveSize = Short.toUnsignedInt(java.nio.ByteBuffer.wrap(parameters).getShort(0));
            byte[] sensitive = java.util.Arrays.copyOfRange(parameters, 2, 2 + sensitiveSize);
            byte[] sealedSensitive = SessionCrypto.cfb(true, sessionKey, nonceCaller, nonceTpm, sensitive);
            java.util.Arrays.fill(sensitive, (byte) 0);
            byte[] sent = parameters.clone();
            System.arraycopy(sealedSensitive, 0, sent, 2, sensitiveSize);
            byte[] attributes = {TpmCodec.SESSION_DECRYPT}; // the session ends with the command
            byte[] hmac = SessionCrypto.hmac(sessionKey, TpmCodec.createCpHash(TpmCodec.storageRootPublic(primary), sent),
                    nonceCaller, nonceTpm, attributes);
            byte[] command = TpmCodec.createInSession(root, session, nonceCaller, TpmCodec.SESSION_DECRYPT, hmac, sent);
            byte[] response = execute(tpm, command);
            if (TpmCodec.responseCode(response) == RC_RETRY) {
                response = execute(tpm, command);
            }
            int code = TpmCodec.responseCode(response);
            if (code != TpmCodec.RC_SUCCESS) {
                throw new TpmException("TPM2_Create answered 0x" + Integer.toHexString(code));
            }
            TpmCodec.SessionResponse answer = TpmCodec.sessionResponse(response);
            byte[] expected = SessionCrypto.hmac(sessionKey, TpmCodec.rpHash(TpmCodec.createCommandCode(), answer.parameters()),
                    answer.nonceTpm(), nonceCaller, new byte[] {answer.attributes()});
            if (!java.security.MessageDigest.isEqual(expected, answer.hmac())) {
                throw new TpmException("the answer to TPM2_Create fails the session's HMAC (not from the TPM the session was salted for)");
            }
            Phases.since("tpm.create", t1);
            return response;
        } finally {
            if (sessionKey != null) {
                java.util.Arrays.fill(sessionKey, (byte) 0);
            }
            execute(tpm, TpmCodec.flush(session));
        }
    }

    /** The key {@code sealed} holds; fails in one line for another TPM, another authorisation value, or modified parts. */
    public byte[] unseal(SealedKey sealed) throws SealException {
        synchronized (uses) {
            return unsealNow(sealed);
        }
    }

    private byte[] unsealNow(SealedKey sealed) throws SealException {
        try (Powered powered = power()) {
            TpmChannel tpm = powered.channel();
            long t0 = System.nanoTime();
            byte[] primary = call(tpm, TpmCodec.createStorageRoot(), "TPM2_CreatePrimary");
            Phases.since("tpm.storage_key", t0);
            int root = TpmCodec.handle(primary);
            try {
                long t1 = System.nanoTime();
                byte[] loaded = execute(tpm, TpmCodec.load(root, sealed.privatePart(), sealed.publicPart()));
                Phases.since("tpm.load", t1);
                if (TpmCodec.responseCode(loaded) != TpmCodec.RC_SUCCESS) {
                    throw new SealException("the data key was sealed by another TPM than " + place.description()
                            + " (or its sealed parts were modified): TPM2_Load answered 0x" + Integer.toHexString(TpmCodec.responseCode(loaded)));
                }
                int object = TpmCodec.handle(loaded);
                try {
                    return unsealInSaltedSession(tpm, root, TpmCodec.storageRootPoint(primary), object, sealed);
                } finally {
                    execute(tpm, TpmCodec.flush(object));
                }
            } finally {
                execute(tpm, TpmCodec.flush(root));
            }
        } catch (TpmException | IOException e) {
            throw new SealException("cannot unseal with " + place.description() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Unseals in a session salted for the storage root key (ECDH, so only this TPM and vmguard know the
     * session key) with response encryption: the data key comes back AES-128-CFB encrypted, and the
     * authorisation value is proven by HMAC, never sent, so neither crosses the socket in clear. A key bound
     * to PCRs gets a policy session (TPM2_PolicyPCR over its PCRs as they are now, TPM2_PolicyAuthValue), one
     * bound to the value alone an HMAC session. The TPM's answer must carry the session's HMAC.
     */
    private byte[] unsealInSaltedSession(TpmChannel tpm, int root, List<byte[]> rootPoint, int object, SealedKey sealed)
            throws IOException, TpmException, SealException {
        long t0 = System.nanoTime();
        SecureRandom random = new SecureRandom();
        byte[] nonceCaller = new byte[32];
        random.nextBytes(nonceCaller);
        SessionCrypto.Salt salt = SessionCrypto.eccSalt(rootPoint.get(0), rootPoint.get(1));
        byte type = sealed.pcrs() == 0 ? TpmCodec.SE_HMAC : TpmCodec.SE_POLICY;
        byte[] started = call(tpm, TpmCodec.startSaltedSession(root, nonceCaller, salt.encryptedSalt(), type), "TPM2_StartAuthSession");
        int session = TpmCodec.handle(started);
        byte[] sessionValue = null;
        try {
            byte[] nonceTpm = TpmCodec.sessionNonce(started);
            byte[] sessionKey = SessionCrypto.sessionKey(salt.seed(), nonceTpm, nonceCaller);
            java.util.Arrays.fill(salt.seed(), (byte) 0);
            Phases.since("tpm.session", t0);
            long t1 = System.nanoTime();
            if (sealed.pcrs() != 0) {
                call(tpm, TpmCodec.policyPcr(session, sealed.pcrs()), "TPM2_PolicyPCR");
                call(tpm, TpmCodec.policyAuthValue(session), "TPM2_PolicyAuthValue");
            }
            sessionValue = SessionCrypto.sessionValue(sessionKey, authValue);
            random.nextBytes(nonceCaller);
            byte[] attributes = {TpmCodec.SESSION_ENCRYPT}; // the session ends with the command
            byte[] hmac = SessionCrypto.hmac(sessionValue, TpmCodec.unsealCpHash(sealed.publicPart()), nonceCaller, nonceTpm, attributes);
            byte[] command = TpmCodec.unsealInSession(object, session, nonceCaller, TpmCodec.SESSION_ENCRYPT, hmac);
            byte[] response = execute(tpm, command);
            if (TpmCodec.responseCode(response) == RC_RETRY) {
                response = execute(tpm, command); // not executed: the session's nonces did not move
            }
            int code = TpmCodec.responseCode(response);
            if (code == RC_POLICY_FAIL) {
                throw new SealException("PCRs " + PcrSelection.pcrs(sealed.pcrs()) + " differ from when the data key was sealed"
                        + " (a changed policy; " + place.description() + "): TPM2_Unseal answered 0x"
                        + Integer.toHexString(RC_POLICY_FAIL));
            }
            if (code != TpmCodec.RC_SUCCESS) {
                throw new SealException("the TPM refused to unseal the data key (another authorisation value?): TPM2_Unseal answered 0x"
                        + Integer.toHexString(code));
            }
            TpmCodec.SessionResponse answer = TpmCodec.sessionResponse(response);
            byte[] expected = SessionCrypto.hmac(sessionValue, TpmCodec.rpHash(TpmCodec.unsealCommandCode(), answer.parameters()),
                    answer.nonceTpm(), nonceCaller, new byte[] {answer.attributes()});
            if (!java.security.MessageDigest.isEqual(expected, answer.hmac())) {
                throw new TpmException("the answer to TPM2_Unseal fails the session's HMAC (not from the TPM the session was salted for)");
            }
            byte[] key = SessionCrypto.cfb(false, sessionValue, answer.nonceTpm(), nonceCaller, answer.firstParameter());
            if (key.length != KEY_BYTES) {
                throw new SealException("the unsealed data key has " + key.length + " bytes, not " + KEY_BYTES);
            }
            Phases.since("tpm.unseal", t1);
            return key;
        } finally {
            if (sessionValue != null) {
                java.util.Arrays.fill(sessionValue, (byte) 0);
            }
            execute(tpm, TpmCodec.flush(session)); // gone already after an Unseal (continueSession clear): harmless
        }
    }

    private List<byte[]> pcrValues(TpmChannel tpm) throws IOException, TpmException {
        List<byte[]> values = new ArrayList<>();
        for (int pcr : PcrSelection.pcrs(pcrs)) {
            List<byte[]> one = TpmCodec.pcrValues(execute(tpm, TpmCodec.pcrRead(List.of(pcr))));
            if (one.size() != 1) {
                throw new TpmException("TPM2_PCR_Read of PCR " + pcr + " returned " + one.size() + " values");
            }
            values.add(one.getFirst());
        }
        return values;
    }

    /** Opens a TPM character device for one use. */
    @FunctionalInterface
    interface DeviceOpener {
        TpmDevice open() throws TpmException;
    }

    /** Where the sealing TPM is. */
    private sealed interface Place permits OwnerSwtpm, HostDevice {
        /** How errors name it. */
        String description();
    }

    /** The owner's swtpm, with its state in {@code stateDirectory}, started for each use. */
    private record OwnerSwtpm(Path stateDirectory) implements Place {
        @Override
        public String description() {
            return "the TPM in " + stateDirectory;
        }
    }

    /** A TPM character device, opened for each use; the kernel powers it. */
    private record HostDevice(String name, DeviceOpener opener) implements Place {
        @Override
        public String description() {
            return name;
        }
    }

    /** The sealing TPM, ready for a use's commands; closing it ends the use. */
    private sealed interface Powered extends AutoCloseable permits PoweredSwtpm, OpenDevice {
        TpmChannel channel();

        @Override
        void close();
    }

    /** A device open for one use: closing it is all (the kernel flushes what the use left loaded). */
    private record OpenDevice(TpmDevice channel) implements Powered {
        @Override
        public void close() {
            channel.close();
        }
    }

    /**
     * The owner's TPM, powered on; closing it saves its state (PCRs) with TPM2_Shutdown(STATE), stops swtpm,
     * and puts the next one on standby when this instance keeps one.
     */
    private record PoweredSwtpm(Swtpm swtpm, SealingTpm owner) implements Powered {
        @Override
        public TpmChannel channel() {
            return swtpm;
        }

        @Override
        public void close() {
            long t0 = System.nanoTime();
            try {
                swtpm.execute(TpmCodec.shutdownState());
            } catch (IOException e) {
                // swtpm is gone: the next power-on starts with TPM2_Startup(CLEAR)
            }
            swtpm.close();
            Phases.since("tpm.stop", t0);
            if (owner.keepStandby) {
                owner.prestart();
            }
        }
    }

    private Powered power() throws TpmException, IOException {
        long t0 = System.nanoTime();
        if (place instanceof HostDevice device) {
            TpmDevice opened = device.opener().open();
            Phases.since("tpm.start", t0);
            return new OpenDevice(opened);
        }
        Path stateDirectory = ((OwnerSwtpm) place).stateDirectory();
        Swtpm standing = takeStandby();
        if (standing != null) {
            Phases.since("tpm.start", t0);
            try {
                return powerOn(standing);
            } catch (TpmException | IOException e) {
                // The standby died while it waited (never powered on, so nothing was lost): start one afresh.
                t0 = System.nanoTime();
            }
        }
        Swtpm tpm = Swtpm.start(stateDirectory);
        Phases.since("tpm.start", t0);
        return powerOn(tpm);
    }

    private Powered powerOn(Swtpm tpm) throws TpmException, IOException {
        long t1 = System.nanoTime();
        try {
            tpm.powerOn();
            // A resume keeps PCRs 0-15 as the last use left them; without a saved state (first use, a crash) a reset.
            int code = TpmCodec.responseCode(execute(tpm, TpmCodec.startupState()));
            if (code != TpmCodec.RC_SUCCESS) {
                code = TpmCodec.responseCode(execute(tpm, TpmCodec.startupClear()));
            }
            if (code != TpmCodec.RC_SUCCESS) {
                throw new TpmException("TPM2_Startup answered 0x" + Integer.toHexString(code));
            }
            Phases.since("tpm.startup", t1);
            return new PoweredSwtpm(tpm, this);
        } catch (TpmException | IOException e) {
            tpm.close();
            throw e;
        }
    }

    /** Every command and response between vmguard and the owner's swtpm passes here (and so past {@link #wire}). */
    private byte[] execute(TpmChannel tpm, byte[] command) throws IOException {
        byte[] response = tpm.execute(command);
        wire.accept(command, response);
        return response;
    }

    private byte[] call(TpmChannel tpm, byte[] command, String what) throws IOException, TpmException {
        byte[] response = execute(tpm, command);
        if (TpmCodec.responseCode(response) == RC_RETRY) {
            response = execute(tpm, command);
        }
        int code = TpmCodec.responseCode(response);
        if (code != TpmCodec.RC_SUCCESS) {
            throw new TpmException(what + " answered 0x" + Integer.toHexString(code));
        }
        return response;
    }
}
