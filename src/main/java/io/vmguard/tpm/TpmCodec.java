package io.vmguard.tpm;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * The handful of TPM 2.0 commands vmguard sends itself, marshalled by hand (TPM 2.0 Library, Part 3; every
 * byte layout was checked against swtpm 0.7.1, research note section 4), and the parts of responses it reads.
 * All integers are big-endian. Authorised commands use one password session with the empty password
 * (TPM_RS_PW), as firmware does before anything sets an authorisation value.
 */
public final class TpmCodec {
    public static final int HEADER_BYTES = 10;
    static final short TAG_NO_SESSIONS = (short) 0x8001;
    static final short TAG_SESSIONS = (short) 0x8002;
    static final short ALG_SHA256 = 0x000b;
    static final int SHA256_BYTES = 32;
    public static final int PCR_COUNT = 24;

    static final int CC_HIERARCHY_CONTROL = 0x121;
    static final int CC_CREATE_PRIMARY = 0x131;
    static final int CC_CREATE = 0x153;
    static final int CC_LOAD = 0x157;
    static final int CC_UNSEAL = 0x15e;
    static final int CC_FLUSH_CONTEXT = 0x165;
    static final int RH_OWNER = 0x40000001;
    /**
     * A sealed data object's attributes: fixedTPM | fixedParent (it never leaves this TPM and this parent),
     * userWithAuth (unsealed with its authorisation value), noDA (a wrong value does not count toward a
     * dictionary-attack lockout of the owner's TPM).
     */
    static final int SEALED_ATTRIBUTES = 0x2 | 0x10 | 0x40 | 0x400;
    static final int CC_STARTUP = 0x144;
    static final int CC_SHUTDOWN = 0x145;
    static final int CC_START_AUTH_SESSION = 0x176;
    static final int CC_POLICY_PCR = 0x17f;
    static final int CC_POLICY_AUTH_VALUE = 0x16b;
    static final int RH_NULL = 0x40000007;
    static final short SU_STATE = 1;
    /**
     * A policy-bound sealed data object's attributes: fixedTPM | fixedParent | noDA, and no userWithAuth, so
     * the authorisation value alone (a password session) cannot unseal it: only a policy session that
     * satisfied the object's policy can (a password session gets TPM_RC_AUTH_UNAVAILABLE).
     */
    static final int POLICY_SEALED_ATTRIBUTES = 0x2 | 0x10 | 0x400;
    static final int CC_GET_RANDOM = 0x17b;
    static final int CC_PCR_READ = 0x17e;
    static final int CC_PCR_EXTEND = 0x182;
    static final int RH_PLATFORM = 0x4000000c;
    static final int RS_PW = 0x40000009;
    static final short SU_CLEAR = 0;

    /** TPM_RC_SUCCESS; TPM_RC_FAILURE (the TPM is gone); TPM_RC_COMMAND_SIZE (a command's size field is wrong). */
    public static final int RC_SUCCESS = 0;
    public static final int RC_FAILURE = 0x101;
    public static final int RC_COMMAND_SIZE = 0x142;
    /** TPM_RC_RETRY: the TPM asks for the same command again. */
    static final int RC_RETRY = 0x922;

    private TpmCodec() {}

    /** TPM2_Startup(TPM_SU_CLEAR): a TPM reset, what firmware sends at power-on. */
    public static byte[] startupClear() {
        return command(TAG_NO_SESSIONS, CC_STARTUP, ByteBuffer.allocate(2).putShort(SU_CLEAR).array());
    }

    /** TPM2_Startup(TPM_SU_STATE): a TPM resume, PCRs 0-15 as the last TPM2_Shutdown(STATE) saved them. */
    public static byte[] startupState() {
        return command(TAG_NO_SESSIONS, CC_STARTUP, ByteBuffer.allocate(2).putShort(SU_STATE).array());
    }

    /** TPM2_Shutdown(TPM_SU_STATE): saves the TPM's state (its PCRs among it) for a TPM2_Startup(STATE). */
    public static byte[] shutdownState() {
        return command(TAG_NO_SESSIONS, CC_SHUTDOWN, ByteBuffer.allocate(2).putShort(SU_STATE).array());
    }

    /** TPM2_GetRandom(count). */
    public static byte[] getRandom(int count) {
        return command(TAG_NO_SESSIONS, CC_GET_RANDOM, ByteBuffer.allocate(2).putShort((short) count).array());
    }

    /** TPM2_PCR_Extend of SHA-256 PCR {@code pcr} with {@code digest}. */
    public static byte[] pcrExtend(int pcr, byte[] digest) {
        if (digest.length != SHA256_BYTES) {
            throw new IllegalArgumentException("a SHA-256 digest is 32 bytes, not " + digest.length);
        }
        ByteBuffer parameters = ByteBuffer.allocate(4 + 2 + SHA256_BYTES).putInt(1).putShort(ALG_SHA256).put(digest);
        return authorised(CC_PCR_EXTEND, pcr, parameters.array());
    }

    /** TPM2_PCR_Read of the SHA-256 bank, PCRs {@code pcrs} (a TPM returns at most eight per call). */
    public static byte[] pcrRead(List<Integer> pcrs) {
        byte[] bitmap = new byte[3];
        for (int pcr : pcrs) {
            bitmap[pcr / 8] |= (byte) (1 << (pcr % 8));
        }
        ByteBuffer parameters = ByteBuffer.allocate(4 + 2 + 1 + 3).putInt(1).putShort(ALG_SHA256).put((byte) 3).put(bitmap);
        return command(TAG_NO_SESSIONS, CC_PCR_READ, parameters.array());
    }

    /**
     * TPM2_HierarchyControl(TPM_RH_PLATFORM, enable = TPM_RH_PLATFORM, state = NO): closes the platform
     * hierarchy until the next TPM2_Startup, as firmware does before it hands over. Without firmware the guest
     * would otherwise hold the platform authorisation (empty) and could, say, reallocate PCR banks.
     */
    public static byte[] disablePlatformHierarchy() {
        ByteBuffer parameters = ByteBuffer.allocate(5).putInt(RH_PLATFORM).put((byte) 0);
        return authorised(CC_HIERARCHY_CONTROL, RH_PLATFORM, parameters.array());
    }

    /**
     * TPM2_CreatePrimary under the owner hierarchy of an ECC NIST P-256 storage key (restricted, decrypt,
     * AES-128-CFB), the template every TPM derives the same key from until TPM2_Clear (the research note's bytes).
     */
    public static byte[] createStorageRoot() {
        ByteBuffer parameters = ByteBuffer.allocate(6 + 28 + 2 + 4)
                .putShort((short) 4).putShort((short) 0).putShort((short) 0) // inSensitive: no auth, no data
                .putShort((short) 26).putShort((short) 0x0023).putShort(ALG_SHA256).putInt(0x00030472).putShort((short) 0)
                .putShort((short) 0x0006).putShort((short) 128).putShort((short) 0x0043) // AES-128-CFB
                .putShort((short) 0x0010).putShort((short) 0x0003).putShort((short) 0x0010) // no scheme, P-256, no KDF
                .putShort((short) 0).putShort((short) 0) // unique x, y
                .putShort((short) 0) // outsideInfo
                .putInt(0); // creationPCR: none
        return authorised(CC_CREATE_PRIMARY, RH_OWNER, parameters.array());
    }

    /**
     * TPM2_Create's parameters for a sealed data object holding {@code secret}, unsealed with {@code authValue}
     * (send with {@link #createInSession}: the first, inSensitive, holds both secrets).
     */
    public static byte[] createSealedParameters(byte[] secret, byte[] authValue) {
        int sensitive = 2 + authValue.length + 2 + secret.length;
        ByteBuffer parameters = ByteBuffer.allocate(2 + sensitive + 2 + 14 + 2 + 4)
                .putShort((short) sensitive).putShort((short) authValue.length).put(authValue)
                .putShort((short) secret.length).put(secret)
                .putShort((short) 14).putShort((short) 0x0008).putShort(ALG_SHA256).putInt(SEALED_ATTRIBUTES)
                .putShort((short) 0) // no policy: the authorisation value alone
                .putShort((short) 0x0010).putShort((short) 0) // keyed hash: no scheme, no unique
                .putShort((short) 0)
                .putInt(0);
        return parameters.array();
    }

    /**
     * TPM2_Create's parameters for a sealed data object holding {@code secret} that only a policy session
     * satisfying {@code policy} (a SHA-256 policy digest, {@link #pcrPolicy}) unseals.
     */
    public static byte[] createPolicySealedParameters(byte[] secret, byte[] authValue, byte[] policy) {
        if (policy.length != SHA256_BYTES) {
            throw new IllegalArgumentException("a SHA-256 policy digest is 32 bytes, not " + policy.length);
        }
        int sensitive = 2 + authValue.length + 2 + secret.length;
        ByteBuffer parameters = ByteBuffer.allocate(2 + sensitive + 2 + 14 + SHA256_BYTES + 2 + 4)
                .putShort((short) sensitive).putShort((short) authValue.length).put(authValue)
                .putShort((short) secret.length).put(secret)
                .putShort((short) (14 + SHA256_BYTES)).putShort((short) 0x0008).putShort(ALG_SHA256).putInt(POLICY_SEALED_ATTRIBUTES)
                .putShort((short) SHA256_BYTES).put(policy)
                .putShort((short) 0x0010).putShort((short) 0)
                .putShort((short) 0)
                .putInt(0);
        return parameters.array();
    }

    /**
     * The policy digest of TPM2_PolicyPCR over the SHA-256 PCRs in {@code pcrMask} (bit n = PCR n) holding
     * {@code values} (in PCR order), followed by TPM2_PolicyAuthValue (TPM 2.0 Part 3, 23.7 and 23.18): what a
     * trial session would compute, and what a policy session must reach to unseal.
     */
    public static byte[] pcrPolicy(int pcrMask, List<byte[]> values) {
        MessageDigest sha256 = sha256();
        for (byte[] value : values) {
            sha256.update(value);
        }
        byte[] pcrDigest = sha256.digest();
        sha256.update(new byte[SHA256_BYTES]);
        sha256.update(ByteBuffer.allocate(4).putInt(CC_POLICY_PCR).array());
        sha256.update(pcrSelection(pcrMask));
        sha256.update(pcrDigest);
        byte[] afterPcr = sha256.digest();
        sha256.update(afterPcr);
        sha256.update(ByteBuffer.allocate(4).putInt(CC_POLICY_AUTH_VALUE).array());
        return sha256.digest();
    }

    /** TPM2_PolicyPCR in {@code session} over the SHA-256 PCRs in {@code pcrMask}, as they are now (empty pcrDigest). */
    public static byte[] policyPcr(int session, int pcrMask) {
        byte[] selection = pcrSelection(pcrMask);
        return command(TAG_NO_SESSIONS, CC_POLICY_PCR, ByteBuffer.allocate(4 + 2 + selection.length)
                .putInt(session).putShort((short) 0).put(selection).array());
    }

    /**
     * TPM2_PolicyAuthValue in {@code session}: the object's authorisation value must then be proven with an
     * HMAC in the command that uses the session ({@link #unsealInSession}).
     */
    public static byte[] policyAuthValue(int session) {
        return command(TAG_NO_SESSIONS, CC_POLICY_AUTH_VALUE, ByteBuffer.allocate(4).putInt(session).array());
    }

    /** TPMA_SESSION: continueSession, decrypt (the first command parameter is encrypted), encrypt (the first response parameter). */
    public static final byte SESSION_ENCRYPT = 0x40;
    public static final byte SE_HMAC = 0x00;
    public static final byte SE_POLICY = 0x01;

    /** The storage root key's public point (x, y) in a CreatePrimary response for {@link #createStorageRoot}'s template. */
    public static List<byte[]> storageRootPoint(byte[] response) throws TpmException {
        try {
            ByteBuffer in = ByteBuffer.wrap(response, HEADER_BYTES + 8, response.length - HEADER_BYTES - 8); // handle, parameterSize
            in.getShort(); // outPublic's size
            if (in.getShort() != 0x0023) {
                throw new TpmException("the storage root key is not an ECC key");
            }
            in.getShort(); // nameAlg
            in.getInt(); // objectAttributes
            int policySize = Short.toUnsignedInt(in.getShort());
            in.position(in.position() + policySize); // authPolicy
            in.position(in.position() + 6 + 2); // symmetric (algorithm, key bits, mode), scheme (none)
            if (in.getShort() != 0x0003) {
                throw new TpmException("the storage root key is not on NIST P-256");
            }
            in.getShort(); // kdf (none)
            List<byte[]> point = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                byte[] coordinate = new byte[Short.toUnsignedInt(in.getShort())];
                in.get(coordinate);
                point.add(coordinate);
            }
            return point;
        } catch (RuntimeException e) {
            throw new TpmException("a TPM2_CreatePrimary response is malformed");
        }
    }

    /**
     * TPM2_StartAuthSession of an unbound SHA-256 session of {@code type} ({@link #SE_HMAC} or {@link #SE_POLICY}),
     * salted with {@code encryptedSalt} for key {@code saltKey}, able to encrypt parameters with AES-128-CFB.
     */
    public static byte[] startSaltedSession(int saltKey, byte[] nonce, byte[] encryptedSalt, byte type) {
        ByteBuffer parameters = ByteBuffer.allocate(4 + 4 + 2 + nonce.length + 2 + encryptedSalt.length + 1 + 6 + 2)
                .putInt(saltKey).putInt(RH_NULL) // salted for the storage root key, no bind object
                .putShort((short) nonce.length).put(nonce)
                .putShort((short) encryptedSalt.length).put(encryptedSalt)
                .put(type)
                .putShort((short) 0x0006).putShort((short) 128).putShort((short) 0x0043) // AES-128-CFB
                .putShort(ALG_SHA256);
        return command(TAG_NO_SESSIONS, CC_START_AUTH_SESSION, parameters.array());
    }

    /** The storage root key's TPM2B_PUBLIC in a CreatePrimary response (its name is computed from it). */
    public static byte[] storageRootPublic(byte[] response) throws TpmException {
        try {
            ByteBuffer in = ByteBuffer.wrap(response, HEADER_BYTES + 8, response.length - HEADER_BYTES - 8);
            byte[] outPublic = new byte[2 + Short.toUnsignedInt(in.getShort(in.position()))];
            in.get(outPublic);
            return outPublic;
        } catch (RuntimeException e) {
            throw new TpmException("a TPM2_CreatePrimary response is malformed");
        }
    }

    /** TPM2_Create's cpHash: the command code, the parent's name (from its TPM2B_PUBLIC) and the parameters as sent. */
    public static byte[] createCpHash(byte[] parentPublic, byte[] parameters) {
        MessageDigest sha256 = sha256();
        sha256.update(ByteBuffer.allocate(4).putInt(CC_CREATE).array());
        sha256.update(objectName(parentPublic));
        sha256.update(parameters);
        return sha256.digest();
    }

    /** TPM2_Create under {@code parent}, authorised in {@code session} (nonce, attributes, HMAC made for them). */
    public static byte[] createInSession(int parent, int session, byte[] nonceCaller, byte attributes, byte[] hmac, byte[] parameters) {
        int authSize = 4 + 2 + nonceCaller.length + 1 + 2 + hmac.length;
        ByteBuffer area = ByteBuffer.allocate(4 + 4 + authSize + parameters.length)
                .putInt(parent)
                .putInt(authSize)
                .putInt(session).putShort((short) nonceCaller.length).put(nonceCaller).put(attributes)
                .putShort((short) hmac.length).put(hmac)
                .put(parameters);
        return command(TAG_SESSIONS, CC_CREATE, area.array());
    }

    public static int createCommandCode() {
        return CC_CREATE;
    }

    /** TPMA_SESSION decrypt: the TPM decrypts the command's first parameter. */
    public static final byte SESSION_DECRYPT = 0x20;

    /** TPM2_Unseal's cpHash: the command code and the object's name (Unseal has no parameters). */
    public static byte[] unsealCpHash(byte[] publicPart) {
        MessageDigest sha256 = sha256();
        sha256.update(ByteBuffer.allocate(4).putInt(CC_UNSEAL).array());
        sha256.update(objectName(publicPart));
        return sha256.digest();
    }

    /** TPM2_Unseal of {@code object} in {@code session}: the caller's new nonce, the attributes and the HMAC made for them. */
    public static byte[] unsealInSession(int object, int session, byte[] nonceCaller, byte attributes, byte[] hmac) {
        int authSize = 4 + 2 + nonceCaller.length + 1 + 2 + hmac.length;
        ByteBuffer area = ByteBuffer.allocate(4 + 4 + authSize)
                .putInt(object)
                .putInt(authSize)
                .putInt(session).putShort((short) nonceCaller.length).put(nonceCaller).put(attributes)
                .putShort((short) hmac.length).put(hmac);
        return command(TAG_SESSIONS, CC_UNSEAL, area.array());
    }

    /** An Unseal response's parts: its parameters as sent (for rpHash), outData's bytes, the TPM's nonce, attributes, HMAC. */
    public record SessionResponse(byte[] parameters, byte[] firstParameter, byte[] nonceTpm, byte attributes, byte[] hmac) {}

    /** Splits a successful response with one session whose first parameter is a TPM2B. */
    public static SessionResponse sessionResponse(byte[] response) throws TpmException {
        try {
            ByteBuffer in = ByteBuffer.wrap(response, HEADER_BYTES, response.length - HEADER_BYTES);
            int parameterSize = in.getInt();
            byte[] parameters = new byte[parameterSize];
            in.get(parameters);
            ByteBuffer first = ByteBuffer.wrap(parameters);
            byte[] data = new byte[Short.toUnsignedInt(first.getShort())];
            first.get(data);
            byte[] nonce = new byte[Short.toUnsignedInt(in.getShort())];
            in.get(nonce);
            byte attributes = in.get();
            byte[] hmac = new byte[Short.toUnsignedInt(in.getShort())];
            in.get(hmac);
            return new SessionResponse(parameters, data, nonce, attributes, hmac);
        } catch (RuntimeException e) {
            throw new TpmException("a TPM response with a session is malformed");
        }
    }

    /** A response's rpHash: response code (success), command code, and its parameters as sent. */
    public static byte[] rpHash(int commandCode, byte[] parameters) {
        MessageDigest sha256 = sha256();
        sha256.update(ByteBuffer.allocate(8).putInt(RC_SUCCESS).putInt(commandCode).array());
        sha256.update(parameters);
        return sha256.digest();
    }

    public static int unsealCommandCode() {
        return CC_UNSEAL;
    }

    /** An object's name: its name algorithm (SHA-256) and the digest of its TPMT_PUBLIC ({@code publicPart} less the TPM2B size). */
    static byte[] objectName(byte[] publicPart) {
        MessageDigest sha256 = sha256();
        sha256.update(publicPart, 2, publicPart.length - 2);
        return ByteBuffer.allocate(2 + SHA256_BYTES).putShort(ALG_SHA256).put(sha256.digest()).array();
    }

    /** The TPM's nonce in a TPM2_StartAuthSession response (after the session handle). */
    public static byte[] sessionNonce(byte[] response) throws TpmException {
        try {
            ByteBuffer in = ByteBuffer.wrap(response, HEADER_BYTES + 4, response.length - HEADER_BYTES - 4);
            byte[] nonce = new byte[Short.toUnsignedInt(in.getShort())];
            in.get(nonce);
            return nonce;
        } catch (RuntimeException e) {
            throw new TpmException("a TPM2_StartAuthSession response is malformed");
        }
    }

    /** A TPML_PCR_SELECTION of the SHA-256 bank, PCRs {@code pcrMask} (bit n = PCR n, 0-23). */
    static byte[] pcrSelection(int pcrMask) {
        return ByteBuffer.allocate(4 + 2 + 1 + 3).putInt(1).putShort(ALG_SHA256).put((byte) 3)
                .put((byte) pcrMask).put((byte) (pcrMask >>> 8)).put((byte) (pcrMask >>> 16)).array();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** TPM2_Load of a created object's private and public parts (each a TPM2B as Create returned it) under {@code parent}. */
    public static byte[] load(int parent, byte[] privatePart, byte[] publicPart) {
        return authorised(CC_LOAD, parent, ByteBuffer.allocate(privatePart.length + publicPart.length)
                .put(privatePart).put(publicPart).array());
    }

    /** TPM2_FlushContext: frees a loaded object's slot (a TPM has three). */
    public static byte[] flush(int handle) {
        return command(TAG_NO_SESSIONS, CC_FLUSH_CONTEXT, ByteBuffer.allocate(4).putInt(handle).array());
    }

    /** The handle a CreatePrimary or Load response returns. */
    public static int handle(byte[] response) {
        return ByteBuffer.wrap(response).getInt(HEADER_BYTES);
    }

    /** The TPM2B parameters that follow the parameter size in an authorised command's response, the first {@code count}. */
    public static List<byte[]> sizedParameters(byte[] response, int count) throws TpmException {
        try {
            ByteBuffer in = ByteBuffer.wrap(response, HEADER_BYTES + 4, response.length - HEADER_BYTES - 4);
            List<byte[]> values = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int size = Short.toUnsignedInt(in.getShort(in.position()));
                byte[] value = new byte[2 + size]; // kept with its size: Load takes them back as they came
                in.get(value);
                values.add(value);
            }
            return values;
        } catch (RuntimeException e) {
            throw new TpmException("a TPM response is malformed");
        }
    }

    /** The response code of {@code response}; TPM_RC_FAILURE for anything too short to hold one. */
    public static int responseCode(byte[] response) {
        return response.length < HEADER_BYTES ? RC_FAILURE : ByteBuffer.wrap(response).getInt(6);
    }

    /** A header-only response with {@code code}, as a TPM answers a command it rejects. */
    public static byte[] errorResponse(int code) {
        return ByteBuffer.allocate(HEADER_BYTES).putShort(TAG_NO_SESSIONS).putInt(HEADER_BYTES).putInt(code).array();
    }

    /** The SHA-256 PCR values in a TPM2_PCR_Read response, in the order the response lists them. */
    public static List<byte[]> pcrValues(byte[] response) throws TpmException {
        int code = responseCode(response);
        if (code != RC_SUCCESS) {
            throw new TpmException("TPM2_PCR_Read failed: response code 0x" + Integer.toHexString(code));
        }
        try {
            ByteBuffer in = ByteBuffer.wrap(response, HEADER_BYTES, response.length - HEADER_BYTES);
            in.getInt(); // pcrUpdateCounter
            int selections = in.getInt();
            for (int i = 0; i < selections; i++) {
                in.getShort();
                int bitmapBytes = Byte.toUnsignedInt(in.get());
                in.position(in.position() + bitmapBytes);
            }
            int count = in.getInt();
            List<byte[]> values = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                byte[] value = new byte[Short.toUnsignedInt(in.getShort())];
                in.get(value);
                values.add(value);
            }
            return values;
        } catch (RuntimeException e) {
            throw new TpmException("TPM2_PCR_Read response is malformed");
        }
    }

    private static byte[] authorised(int code, int handle, byte[] parameters) {
        ByteBuffer area = ByteBuffer.allocate(4 + 4 + 9 + parameters.length)
                .putInt(handle)
                .putInt(9) // authorizationSize: one password session
                .putInt(RS_PW).putShort((short) 0).put((byte) 0).putShort((short) 0) // no nonce, no attributes, empty password
                .put(parameters);
        return command(TAG_SESSIONS, code, area.array());
    }

    private static byte[] command(short tag, int code, byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(HEADER_BYTES).putShort(tag).putInt(HEADER_BYTES + body.length).putInt(code).array());
        out.writeBytes(body);
        return out.toByteArray();
    }
}
