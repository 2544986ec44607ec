package io.vmguard.devices.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The CRB interface as Linux's tpm_crb drives it, and as a guest that lies about sizes or races the device does. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TpmCrbTest {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Answers each command with its own bytes reversed after a header, unless told to block or fail. */
    private static final class FakeBackend implements TpmBackend {
        final List<byte[]> commands = new ArrayList<>();
        final AtomicInteger cancels = new AtomicInteger();
        volatile CountDownLatch gate;
        volatile boolean fail;

        @Override
        public byte[] execute(byte[] command) throws IOException {
            synchronized (commands) {
                commands.add(command);
            }
            if (gate != null) {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    throw new IOException("interrupted");
                }
            }
            if (fail) {
                throw new IOException("swtpm went away");
            }
            return ByteBuffer.allocate(14).putShort((short) 0x8001).putInt(14).putInt(0).putInt(command.length).array();
        }

        @Override
        public void cancel() {
            cancels.incrementAndGet();
        }
    }

    private final FakeBackend backend = new FakeBackend();
    private final TpmCrb crb = new TpmCrb(backend);
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        crb.close();
        arena.close();
    }

    private int read32(int offset) {
        MemorySegment data = arena.allocate(4);
        crb.read(offset, data);
        return data.get(INT, 0);
    }

    private long read64(int offset) {
        MemorySegment data = arena.allocate(8);
        crb.read(offset, data);
        return data.get(LONG, 0);
    }

    private void write32(int offset, int value) {
        MemorySegment data = arena.allocate(4);
        data.set(INT, 0, value);
        crb.write(offset, data);
    }

    private void writeBuffer(byte[] bytes) {
        // memcpy_toio: 4-byte stores, then single bytes
        for (int i = 0; i < bytes.length; i++) {
            MemorySegment data = arena.allocate(1);
            data.set(ValueLayout.JAVA_BYTE, 0, bytes[i]);
            crb.write(TpmCrb.BUFFER + i, data);
        }
    }

    private byte[] readResponse() {
        byte[] header = new byte[10];
        for (int i = 0; i < 10; i++) {
            MemorySegment data = arena.allocate(1);
            crb.read(TpmCrb.BUFFER + i, data);
            header[i] = data.get(ValueLayout.JAVA_BYTE, 0);
        }
        int size = ByteBuffer.wrap(header).getInt(2);
        byte[] response = new byte[size];
        for (int i = 0; i < size; i++) {
            MemorySegment data = arena.allocate(1);
            crb.read(TpmCrb.BUFFER + i, data);
            response[i] = data.get(ValueLayout.JAVA_BYTE, 0);
        }
        return response;
    }

    private void awaitStartCleared() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while ((read32(TpmCrb.CTRL_START) & 1) != 0) {
            assertTrue(System.nanoTime() < deadline, "START never cleared");
            Thread.sleep(1);
        }
    }

    private static byte[] command(int size, int length) {
        return ByteBuffer.allocate(length).putShort((short) 0x8001).putInt(size).putInt(0x17b).array();
    }

    private int responseCode() {
        return ByteBuffer.wrap(readResponse()).getInt(6);
    }

    @Test
    void linuxsProbeFindsTheLocalityTheAddressesAndAnIdleTpm() {
        assertEquals(0x80, read32(TpmCrb.LOC_STATE) & 0x82, "registers valid, no locality yet");
        write32(TpmCrb.LOC_CTRL, 1);
        assertEquals(0x82, read32(TpmCrb.LOC_STATE) & 0x82, "locality 0 assigned");
        assertEquals(1, read32(TpmCrb.LOC_STS) & 1, "granted");
        assertEquals(2, read32(TpmCrb.CTRL_STS), "idle after reset");
        write32(TpmCrb.CTRL_REQ, 1);
        assertEquals(0, read32(TpmCrb.CTRL_REQ), "cmdReady completes at once");
        assertEquals(0, read32(TpmCrb.CTRL_STS), "ready, not idle");
        assertEquals(TpmCrb.BUFFER_SIZE, read32(TpmCrb.CTRL_CMD_SIZE));
        assertEquals(TpmCrb.BASE + TpmCrb.BUFFER, Integer.toUnsignedLong(read32(TpmCrb.CTRL_CMD_LADDR)));
        assertEquals(0, read32(TpmCrb.CTRL_CMD_HADDR));
        assertEquals(TpmCrb.BUFFER_SIZE, read32(TpmCrb.CTRL_RSP_SIZE));
        assertEquals(TpmCrb.BASE + TpmCrb.BUFFER, read64(TpmCrb.CTRL_RSP_ADDR), "memcpy_fromio's 8-byte read");
        assertEquals(1, read32(TpmCrb.INTF_ID) & 0xf, "CRB interface active");
        write32(TpmCrb.CTRL_REQ, 2);
        assertEquals(2, read32(TpmCrb.CTRL_STS), "idle again");
        write32(TpmCrb.LOC_CTRL, 2);
        assertEquals(0x80, read32(TpmCrb.LOC_STATE) & 0x82, "relinquished");
    }

    @Test
    void aCommandRunsOnTheBackendAndStartClearsWithTheResponseInTheBuffer() throws Exception {
        write32(TpmCrb.LOC_CTRL, 1);
        writeBuffer(command(12, 12));
        write32(TpmCrb.CTRL_START, 1);
        awaitStartCleared();
        assertEquals(1, backend.commands.size());
        assertArrayEquals(command(12, 12), backend.commands.getFirst());
        byte[] response = readResponse();
        assertEquals(14, response.length);
        assertEquals(12, ByteBuffer.wrap(response).getInt(10), "the backend saw the 12 bytes the header named");
    }

    @Test
    void sizesTheGuestLiesAboutGetTpmRcCommandSizeAndNeverReachTheBackend() throws Exception {
        write32(TpmCrb.LOC_CTRL, 1);
        for (int size : new int[] {0, 9, TpmCrb.BUFFER_SIZE + 1, 0x7fffffff, -1}) {
            writeBuffer(command(size, 10));
            write32(TpmCrb.CTRL_START, 1);
            awaitStartCleared();
            assertEquals(0x142, responseCode(), "size " + Integer.toUnsignedString(size));
            assertEquals(0, read32(TpmCrb.CTRL_STS) & 1, "not fatal: the TPM stays usable");
        }
        assertTrue(backend.commands.isEmpty());
        writeBuffer(command(TpmCrb.BUFFER_SIZE, 10));
        write32(TpmCrb.CTRL_START, 1);
        awaitStartCleared();
        assertEquals(TpmCrb.BUFFER_SIZE, backend.commands.getFirst().length, "the largest command fits");
    }

    @Test
    void startWithoutTheLocalityOrWhileBusyIsIgnoredAndTheCommandIsCopiedAtStart() throws Exception {
        writeBuffer(command(12, 12));
        write32(TpmCrb.CTRL_START, 1);
        assertEquals(0, read32(TpmCrb.CTRL_START), "no locality: ignored");
        write32(TpmCrb.LOC_CTRL, 1);
        backend.gate = new CountDownLatch(1);
        write32(TpmCrb.CTRL_START, 1);
        assertEquals(1, read32(TpmCrb.CTRL_START), "START stays set while the backend works");
        writeBuffer(command(40, 40)); // rewritten after START
        write32(TpmCrb.CTRL_START, 1); // and started again while busy
        backend.gate.countDown();
        awaitStartCleared();
        Thread.sleep(50);
        assertEquals(1, backend.commands.size(), "the second START was ignored");
        assertEquals(12, backend.commands.getFirst().length, "the command as it was at START");
    }

    @Test
    void cancelReachesTheBackendOnlyWhileACommandRunsAndAtABoundedRate() throws Exception {
        write32(TpmCrb.LOC_CTRL, 1);
        write32(TpmCrb.CTRL_CANCEL, 1);
        Thread.sleep(50);
        assertEquals(0, backend.cancels.get(), "nothing to cancel");
        backend.gate = new CountDownLatch(1);
        writeBuffer(command(12, 12));
        write32(TpmCrb.CTRL_START, 1);
        for (int i = 0; i < 10_000; i++) {
            write32(TpmCrb.CTRL_CANCEL, 1);
        }
        backend.gate.countDown();
        awaitStartCleared();
        Thread.sleep(50);
        assertTrue(backend.cancels.get() >= 1 && backend.cancels.get() < 100, "cancels forwarded: " + backend.cancels.get());
    }

    @Test
    void aFailedBackendAnswersTpmRcFailureAndMarksTheTpmFatal() throws Exception {
        write32(TpmCrb.LOC_CTRL, 1);
        backend.fail = true;
        writeBuffer(command(12, 12));
        write32(TpmCrb.CTRL_START, 1);
        awaitStartCleared();
        assertEquals(0x101, responseCode());
        assertEquals(1, read32(TpmCrb.CTRL_STS) & 1, "tpmSts: Linux answers -EIO from here on");
        backend.fail = false;
        write32(TpmCrb.CTRL_START, 1);
        assertEquals(0, read32(TpmCrb.CTRL_START), "a failed TPM takes no more commands");
    }

    @Test
    void theAddressAndSizeRegistersIgnoreWrites() {
        for (int offset : new int[] {TpmCrb.CTRL_CMD_SIZE, TpmCrb.CTRL_CMD_LADDR, TpmCrb.CTRL_CMD_HADDR, TpmCrb.CTRL_RSP_SIZE,
                TpmCrb.CTRL_RSP_ADDR, TpmCrb.CTRL_RSP_ADDR + 4, TpmCrb.INTF_ID}) {
            write32(offset, 0xdeadbeef);
        }
        assertEquals(TpmCrb.BUFFER_SIZE, read32(TpmCrb.CTRL_CMD_SIZE));
        assertEquals(TpmCrb.BASE + TpmCrb.BUFFER, read64(TpmCrb.CTRL_RSP_ADDR));
        assertEquals(0, read32(TpmCrb.CTRL_CMD_HADDR));
    }

    @Test
    void aSnapshotKeepsTheRegistersAndTheBuffer() throws Exception {
        write32(TpmCrb.LOC_CTRL, 1);
        write32(TpmCrb.CTRL_REQ, 1);
        writeBuffer(command(12, 12));
        write32(TpmCrb.CTRL_START, 1);
        awaitStartCleared();
        assertTrue(crb.awaitIdle(1000));
        StateWriter out = StateWriter.root();
        crb.saveState(out);
        TpmCrb restored = new TpmCrb(backend);
        try {
            restored.restoreState(StateReader.of(out.tree()));
            for (int offset = 0; offset < TpmCrb.SIZE; offset += 4) {
                MemorySegment a = arena.allocate(4);
                MemorySegment b = arena.allocate(4);
                crb.read(offset, a);
                restored.read(offset, b);
                assertEquals(a.get(INT, 0), b.get(INT, 0), "offset 0x" + Integer.toHexString(offset));
            }
        } finally {
            restored.close();
        }
    }
}
