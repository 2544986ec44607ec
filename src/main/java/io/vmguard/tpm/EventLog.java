package io.vmguard.tpm;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * A TCG2 crypto-agile event log with the SHA-256 bank only (TCG PC Client Platform Firmware Profile 2.0,
 * 10.2; Linux include/linux/tpm_eventlog.h), little-endian: first the Spec ID event in the old SHA-1 format
 * (EV_NO_ACTION, PCR 0, 20 zero bytes, "Spec ID Event03" naming one algorithm, SHA-256), then one
 * TCG_PCR_EVENT2 per measurement: PCR, type, one digest, event data. A verifier replays it: each PCR starts at
 * 32 zero bytes and becomes SHA-256(PCR ‖ digest) per event.
 */
public final class EventLog {
    public static final int EV_NO_ACTION = 0x03;
    public static final int EV_SEPARATOR = 0x04;
    public static final int EV_S_CRTM_VERSION = 0x08;
    public static final int EV_IPL = 0x0d;
    private static final short ALG_SHA256 = 0x000b;
    private static final int SHA256_BYTES = 32;

    /** One measurement: what was extended into which PCR, and the data that says what it was. */
    public record Event(int pcr, int type, byte[] digest, byte[] data) {
        public Event {
            if (pcr < 0 || pcr >= TpmCodec.PCR_COUNT || digest.length != SHA256_BYTES) {
                throw new IllegalArgumentException("bad event: PCR " + pcr + ", " + digest.length + "-byte digest");
            }
            digest = digest.clone();
            data = data.clone();
        }

        @Override
        public byte[] digest() {
            return digest.clone();
        }

        @Override
        public byte[] data() {
            return data.clone();
        }
    }

    private final List<Event> events = new ArrayList<>();

    public void add(Event event) {
        events.add(event);
    }

    public List<Event> events() {
        return List.copyOf(events);
    }

    /** The log as the guest reads it from the TPM2 table's log area. */
    public byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(specIdEvent());
        for (Event event : events) {
            out.writeBytes(le(12 + 2 + SHA256_BYTES + 4)
                    .putInt(event.pcr()).putInt(event.type()).putInt(1).putShort(ALG_SHA256).put(event.digest)
                    .putInt(event.data.length).array());
            out.writeBytes(event.data);
        }
        return out.toByteArray();
    }

    /** The header event: the TCG_PCClientPCREvent that announces the crypto-agile format (Spec ID Event03). */
    private static byte[] specIdEvent() {
        byte[] signature = "Spec ID Event03\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        ByteBuffer body = le(16 + 4 + 4 + 4 + 4 + 1)
                .put(signature)
                .putInt(0) // platform class: client
                .put((byte) 0).put((byte) 2).put((byte) 2) // spec version 2.0, errata 2
                .put((byte) 2) // uintnSize: UINT64
                .putInt(1).putShort(ALG_SHA256).putShort((short) SHA256_BYTES)
                .put((byte) 0); // no vendor information
        return le(4 + 4 + 20 + 4 + body.capacity())
                .putInt(0).putInt(EV_NO_ACTION).put(new byte[20]).putInt(body.capacity()).put(body.array()).array();
    }

    /** The SHA-256 PCR values replaying this log gives (PCRs no event touches stay zero). */
    public byte[][] replay() {
        byte[][] pcrs = new byte[TpmCodec.PCR_COUNT][SHA256_BYTES];
        for (Event event : events) {
            MessageDigest sha256 = sha256();
            sha256.update(pcrs[event.pcr()]);
            sha256.update(event.digest);
            pcrs[event.pcr()] = sha256.digest();
        }
        return pcrs;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }
}
