package io.vmguard.tpm;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * swtpm's control channel (swtpm_ioctls(3), /usr/include/swtpm/tpm_ioctl.h): a big-endian u32 command code
 * and its payload, answered by a u32 result and the command's reply. One request at a time, each read
 * back before the next is sent: swtpm's reader merges back-to-back writes (research note, section 1).
 */
final class SwtpmControl implements AutoCloseable {
    static final int CMD_INIT = 0x02;
    static final int CMD_SHUTDOWN = 0x03;
    static final int CMD_CANCEL_TPM_CMD = 0x09;
    static final int CMD_GET_STATEBLOB = 0x0c;
    static final int CMD_SET_STATEBLOB = 0x0d;
    static final int CMD_STOP = 0x0e;
    static final int CMD_SET_BUFFERSIZE = 0x11;

    /** State blob types (PTM_BLOB_TYPE_*): the permanent state (seeds, NV, hierarchies) and the volatile one (PCRs, sessions). */
    static final int BLOB_PERMANENT = 1;
    static final int BLOB_VOLATILE = 2;
    /** PTM_STATE_FLAG_DECRYPTED: the blob as libtpms keeps it (swtpm would otherwise encrypt with its --key, which vmguard does not use). */
    private static final int STATE_FLAG_DECRYPTED = 1;
    /** A blob larger than this is not one swtpm 0.7 makes (permanent ~1.3 KiB, volatile ~9 KiB): refuse it. */
    static final int MAX_BLOB_BYTES = 1 << 20;

    private final SocketChannel channel;

    SwtpmControl(SocketChannel channel) {
        this.channel = channel;
    }

    /** Restarts the TPM as a power cycle does (libtpms re-initialised; PCRs reset until a state blob says otherwise). */
    synchronized void init() throws IOException, TpmException {
        check("INIT", request(CMD_INIT, 4).putInt(0));
    }

    /** Stops the TPM (needed before buffer sizes and state blobs are set). */
    synchronized void stop() throws IOException, TpmException {
        check("STOP", request(CMD_STOP, 0));
    }

    /** Asks the TPM to abandon the command it is working on (a guest's CANCEL). */
    synchronized void cancel() throws IOException, TpmException {
        check("CANCEL_TPM_CMD", request(CMD_CANCEL_TPM_CMD, 0));
    }

    /** Ends the swtpm process: it writes its state and exits. */
    synchronized void shutdown() throws IOException, TpmException {
        check("SHUTDOWN", request(CMD_SHUTDOWN, 0));
    }

    /** Sets the largest command and response (the TPM must be stopped); returns the size swtpm settled on. */
    synchronized int setBufferSize(int size) throws IOException, TpmException {
        send(request(CMD_SET_BUFFERSIZE, 4).putInt(size));
        int result = readInt();
        if (result != 0) {
            throw new TpmException("swtpm refused SET_BUFFERSIZE(" + size + "): result 0x" + Integer.toHexString(result));
        }
        return read(12).getInt(0); // the size, then the smallest and largest swtpm allows
    }

    /** One state blob of the running TPM, decrypted. */
    synchronized byte[] stateBlob(int type) throws IOException, TpmException {
        send(request(CMD_GET_STATEBLOB, 12).putInt(STATE_FLAG_DECRYPTED).putInt(type).putInt(0));
        int result = readInt();
        if (result != 0) {
            // swtpm answers an error with the bare result or with a zeroed header; neither is followed by a blob.
            throw new TpmException("swtpm refused GET_STATEBLOB(" + type + "): result 0x" + Integer.toHexString(result));
        }
        ByteBuffer header = read(12);
        int total = header.getInt(4);
        if (total < 0 || total > MAX_BLOB_BYTES) {
            throw new TpmException("swtpm's state blob " + type + " claims " + Integer.toUnsignedString(total) + " bytes");
        }
        // With offset 0 swtpm sends the whole blob after the header, whatever the header's length field says.
        return read(total).array();
    }

    /** Replaces one state blob (the TPM must be stopped); {@link #init} then runs the TPM from it. */
    synchronized void setStateBlob(int type, byte[] blob) throws IOException, TpmException {
        if (blob.length > MAX_BLOB_BYTES) {
            throw new TpmException("a TPM state blob of " + blob.length + " bytes is more than swtpm keeps");
        }
        ByteBuffer request = request(CMD_SET_STATEBLOB, 12 + blob.length).putInt(STATE_FLAG_DECRYPTED).putInt(type)
                .putInt(blob.length).put(blob);
        check("SET_STATEBLOB(" + type + ")", request);
    }

    private static ByteBuffer request(int command, int payload) {
        return ByteBuffer.allocate(4 + payload).putInt(command);
    }

    private void check(String what, ByteBuffer request) throws IOException, TpmException {
        send(request);
        int result = readInt();
        if (result != 0) {
            throw new TpmException("swtpm refused " + what + ": result 0x" + Integer.toHexString(result));
        }
    }

    private void send(ByteBuffer request) throws IOException {
        request.flip();
        while (request.hasRemaining()) {
            channel.write(request);
        }
    }

    private int readInt() throws IOException {
        return read(4).getInt(0);
    }

    private ByteBuffer read(int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new EOFException("swtpm closed its control channel");
            }
        }
        return buffer.flip();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
