package io.vmguard.devices.tpm;

import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import io.vmguard.events.GuestLog;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A TPM 2.0 Command Response Buffer interface, locality 0 only, laid out as QEMU's tpm-crb (the register
 * map is in the research note, section 2): locality registers at 0x00-0x3F, control registers at 0x40-0x6F,
 * and one shared command/response buffer at 0x80-0xFFF.
 *
 * <p>What a guest can do and what it gets (the research note's adversarial cases): a command's length is
 * read once from a private copy taken at START, and one whose header claims fewer than 10 or more than
 * {@link #BUFFER_SIZE} bytes gets a TPM_RC_COMMAND_SIZE response without reaching the backend; START while a
 * command runs, or without the locality, is ignored; a command runs on this device's own thread (START stays
 * 1 until the response is in the buffer), so a slow TPM never holds a vCPU; CANCEL reaches the backend only
 * while a command runs; the address and size registers are read-only. A backend that fails answers
 * TPM_RC_FAILURE and sets CTRL_STS.tpmSts (fatal), as QEMU does: the TPM stays failed until the VM restarts,
 * and is never silently restarted (its PCRs would be lost).
 */
public final class TpmCrb implements BusDevice, Snapshottable, AutoCloseable {
    public static final long BASE = 0xFED4_0000L;
    public static final int SIZE = 0x1000;
    public static final BusRange RANGE = new BusRange(BASE, SIZE);

    static final int LOC_STATE = 0x00;
    static final int LOC_CTRL = 0x08;
    static final int LOC_STS = 0x0c;
    static final int INTF_ID = 0x30;
    static final int INTF_ID2 = 0x34;
    static final int CTRL_REQ = 0x40;
    static final int CTRL_STS = 0x44;
    static final int CTRL_CANCEL = 0x48;
    static final int CTRL_START = 0x4c;
    static final int CTRL_CMD_SIZE = 0x58;
    static final int CTRL_CMD_LADDR = 0x5c;
    static final int CTRL_CMD_HADDR = 0x60;
    static final int CTRL_RSP_SIZE = 0x64;
    static final int CTRL_RSP_ADDR = 0x68;
    public static final int BUFFER = 0x80;
    public static final int BUFFER_SIZE = SIZE - BUFFER;
    /** The control area the ACPI TPM2 table points at: the first control register. */
    public static final long CONTROL_AREA = BASE + CTRL_REQ;

    private static final int LOC_STATE_ASSIGNED = 1 << 1, LOC_STATE_REG_VALID = 1 << 7;
    private static final int LOC_CTRL_REQUEST = 1, LOC_CTRL_RELINQUISH = 1 << 1;
    private static final int LOC_STS_GRANTED = 1;
    private static final int REQ_CMD_READY = 1, REQ_GO_IDLE = 1 << 1;
    private static final int STS_FATAL = 1, STS_IDLE = 1 << 1;
    /**
     * INTF_ID as QEMU reports it: interface type CRB active (1), version CRB (1), data transfer sizes up to
     * 64 bytes (3), CRB capable, CRB selected (1); ID2: vendor 0x1014.
     */
    private static final int INTERFACE_ID = 1 | 1 << 4 | 3 << 11 | 1 << 14 | 1 << 17;
    private static final int VENDOR_ID = 0x1014;
    private static final short TAG_NO_SESSIONS = (short) 0x8001;
    private static final int RC_FAILURE = 0x101, RC_COMMAND_SIZE = 0x142;
    /** Cancels reach the backend at most this often: a guest hammering CANCEL must not load swtpm's control channel. */
    private static final long CANCEL_INTERVAL_NANOS = 10_000_000;

    private final TpmBackend backend;
    private final ExecutorService worker;
    private final byte[] buffer = new byte[BUFFER_SIZE];
    private boolean localityAssigned;
    private boolean idle = true;
    private boolean fatal;
    private int cancel;
    /** START: set by the guest, cleared when the response is in the buffer. */
    private boolean started;
    private long lastCancel = Long.MIN_VALUE / 2;

    public TpmCrb(TpmBackend backend) {
        this.backend = backend;
        this.worker = Executors.newSingleThreadExecutor(runnable -> Thread.ofPlatform().name("tpm-crb").daemon().unstarted(runnable));
    }

    @Override
    public synchronized void read(long offset, MemorySegment data) {
        for (long i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, readByte((int) (offset + i)));
        }
    }

    private byte readByte(int at) {
        if (at >= BUFFER) {
            return buffer[at - BUFFER];
        }
        long value = switch (at & ~3) {
            case LOC_STATE -> LOC_STATE_REG_VALID | (localityAssigned ? LOC_STATE_ASSIGNED : 0);
            case LOC_STS -> localityAssigned ? LOC_STS_GRANTED : 0;
            case INTF_ID -> INTERFACE_ID;
            case INTF_ID2 -> VENDOR_ID;
            case CTRL_STS -> (fatal ? STS_FATAL : 0) | (idle ? STS_IDLE : 0);
            case CTRL_CANCEL -> cancel;
            case CTRL_START -> started ? 1 : 0;
            case CTRL_CMD_SIZE, CTRL_RSP_SIZE -> BUFFER_SIZE;
            case CTRL_CMD_LADDR, CTRL_RSP_ADDR -> BASE + BUFFER;
            default -> 0; // CTRL_REQ reads 0 (requests complete at once), CMD_HADDR and RSP_ADDR's high half are 0
        };
        return (byte) (value >>> (8 * (at & 3)));
    }

    @Override
    public synchronized void write(long offset, MemorySegment data) {
        for (long i = 0; i < data.byteSize(); i++) {
            int at = (int) (offset + i);
            int value = Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, i));
            if (at >= BUFFER) {
                buffer[at - BUFFER] = (byte) value;
            } else {
                // Every control bit lives in a register's low byte; the other bytes of writable registers are reserved.
                switch (at) {
                    case LOC_CTRL -> localityControl(value);
                    case CTRL_REQ -> request(value);
                    case CTRL_CANCEL -> cancel(value);
                    case CTRL_START -> start(value);
                    default -> { } // read-only or reserved: the address and size registers stay as they are
                }
            }
        }
    }

    private void localityControl(int value) {
        if ((value & LOC_CTRL_REQUEST) != 0) {
            localityAssigned = true;
        } else if ((value & LOC_CTRL_RELINQUISH) != 0) {
            localityAssigned = false;
        }
    }

    private void request(int value) {
        if ((value & REQ_CMD_READY) != 0) {
            idle = false;
        } else if ((value & REQ_GO_IDLE) != 0) {
            idle = true;
        }
    }

    private void cancel(int value) {
        cancel = value & 1;
        long now = System.nanoTime();
        if (cancel != 0 && started && now - lastCancel >= CANCEL_INTERVAL_NANOS) {
            lastCancel = now;
            worker.execute(() -> {
                try {
                    backend.cancel();
                } catch (IOException e) {
                    GuestLog.warn("tpm", "cannot cancel the TPM command: " + e.getMessage());
                }
            });
        }
    }

    private void start(int value) {
        if ((value & 1) == 0 || started || !localityAssigned || fatal) {
            return; // QEMU and Cloud Hypervisor ignore a START they cannot act on, and so does a real CRB
        }
        started = true;
        int length = ByteBuffer.wrap(buffer).getInt(2);
        if (length < 10 || length > BUFFER_SIZE) {
            complete(errorResponse(RC_COMMAND_SIZE), false);
            return;
        }
        byte[] command = java.util.Arrays.copyOf(buffer, length); // the guest may rewrite the buffer from here on
        worker.execute(() -> run(command));
    }

    private void run(byte[] command) {
        byte[] response;
        boolean failed = false;
        try {
            response = backend.execute(command);
            if (response.length < 10 || response.length > BUFFER_SIZE) {
                throw new IOException("the TPM answered " + response.length + " bytes");
            }
        } catch (IOException | RuntimeException e) {
            GuestLog.warn("tpm", "the TPM failed: " + e.getMessage());
            response = errorResponse(RC_FAILURE);
            failed = true;
        }
        synchronized (this) {
            complete(response, failed);
        }
    }

    private void complete(byte[] response, boolean failed) {
        System.arraycopy(response, 0, buffer, 0, response.length);
        fatal |= failed;
        started = false;
        notifyAll(); // a snapshot waiting in awaitIdle
    }

    private static byte[] errorResponse(int code) {
        return ByteBuffer.allocate(10).putShort(TAG_NO_SESSIONS).putInt(10).putInt(code).array();
    }

    /** Waits until no command is in flight (for a snapshot); false if one still runs after {@code millis}. */
    public boolean awaitIdle(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        synchronized (this) {
            while (started) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    return false;
                }
                wait(Math.min(left, 10));
            }
        }
        return true;
    }

    /** The registers and the buffer; call with no command in flight ({@link #awaitIdle}). */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putBoolean("locality_assigned", localityAssigned).putBoolean("idle", idle).putBoolean("fatal", fatal)
                .putInt("cancel", cancel).putBytes("buffer", buffer);
    }

    @Override
    public synchronized void restoreState(StateReader in) throws SnapshotException {
        byte[] saved = in.getBytes("buffer", BUFFER_SIZE);
        localityAssigned = in.getBoolean("locality_assigned");
        idle = in.getBoolean("idle");
        fatal = in.getBoolean("fatal");
        cancel = in.getInt("cancel", 0, 1);
        System.arraycopy(saved, 0, buffer, 0, BUFFER_SIZE);
        started = false;
    }

    @Override
    public void close() {
        worker.shutdownNow();
        try {
            worker.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
