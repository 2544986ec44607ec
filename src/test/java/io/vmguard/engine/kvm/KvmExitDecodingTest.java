package io.vmguard.engine.kvm;

import io.vmguard.testing.RecordingDevice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.VcpuExit;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Decoding of kvm_run contents KVM would produce, checked without KVM on synthetic pages. */
class KvmExitDecodingTest {
    private static final long DATA_OFFSET = 0x1000;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment run = arena.allocate(0x3000, 8);

    @AfterEach
    void close() {
        arena.close();
    }

    private void io(int direction, int size, int port, int count) {
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.IO);
        run.set(ValueLayout.JAVA_BYTE, KvmRunLayout.IO_DIRECTION, (byte) direction);
        run.set(ValueLayout.JAVA_BYTE, KvmRunLayout.IO_SIZE, (byte) size);
        run.set(ValueLayout.JAVA_SHORT, KvmRunLayout.IO_PORT, (short) port);
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.IO_COUNT, count);
        run.set(ValueLayout.JAVA_LONG, KvmRunLayout.IO_DATA_OFFSET, DATA_OFFSET);
    }

    @Test
    void stringOutputBecomesOneExitPerElementInOrder() {
        io(KvmRunLayout.IO_OUT, 2, 0x3f8, 3);
        for (int i = 0; i < 6; i++) {
            run.set(ValueLayout.JAVA_BYTE, DATA_OFFSET + i, (byte) (0x10 + i));
        }

        PortIoElements elements = PortIoElements.from(run);
        for (int i = 0; i < 3; i++) {
            assertTrue(elements.hasNext());
            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, elements.next());
            assertEquals(0x3f8, out.port());
            assertEquals(0x1110 + 0x202 * i, RecordingDevice.load(out.data()), "element " + i);
        }
        assertFalse(elements.hasNext());
    }

    @Test
    void stringInputElementsAreSlicesOfTheirOwnPlaceInTheDataArea() {
        io(KvmRunLayout.IO_IN, 4, 0x60, 2);

        PortIoElements elements = PortIoElements.from(run);
        RecordingDevice.store(assertInstanceOf(VcpuExit.IoIn.class, elements.next()).data(), 0x11223344L);
        RecordingDevice.store(assertInstanceOf(VcpuExit.IoIn.class, elements.next()).data(), 0x55667788L);

        assertEquals(0x11223344, run.get(ValueLayout.JAVA_INT, DATA_OFFSET));
        assertEquals(0x55667788, run.get(ValueLayout.JAVA_INT, DATA_OFFSET + 4));
    }

    @Test
    void ioBlocksThatWouldReachOutsideTheMappingAreRefused() {
        io(KvmRunLayout.IO_IN, 4, 0x60, 0x1000);
        assertNull(PortIoElements.from(run));
        io(KvmRunLayout.IO_IN, 3, 0x60, 1);
        assertNull(PortIoElements.from(run));
        assertEquals("KVM_EXIT_IO with a malformed io block: direction 0, size 3, port 0x60, count 1, data_offset 0x1000",
                PortIoElements.describeMalformed(run));
    }

    @Test
    void mmioWriteCarriesItsAddressAndExactlyLenBytes() {
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.MMIO);
        run.set(ValueLayout.JAVA_LONG, KvmRunLayout.MMIO_PHYS_ADDR, 0xfebf0000L);
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.MMIO_LEN, 2);
        run.set(ValueLayout.JAVA_BYTE, KvmRunLayout.MMIO_IS_WRITE, (byte) 1);
        run.set(ValueLayout.JAVA_SHORT, KvmRunLayout.MMIO_DATA, (short) 0x1234);

        VcpuExit.MmioWrite write = assertInstanceOf(VcpuExit.MmioWrite.class, KvmExitDecoder.decode(run));
        assertEquals(0xfebf0000L, write.address());
        assertEquals(2, write.data().byteSize());
        assertEquals(0x1234, RecordingDevice.load(write.data()));
    }

    @Test
    void entryFailureNamesTheHardwareReason() {
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.FAIL_ENTRY);
        run.set(ValueLayout.JAVA_LONG, KvmRunLayout.FAIL_ENTRY_REASON, 0x80000021L);
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.FAIL_ENTRY_CPU, 1);

        assertEquals(new VcpuExit.InternalError(
                        "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x80000021 (VMX: invalid guest state) on host cpu 1"),
                KvmExitDecoder.decode(run));
    }

    @Test
    void emulationFailureShowsTheInstructionBytes() {
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.INTERNAL_ERROR);
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.INTERNAL_SUBERROR, 1);
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.INTERNAL_NDATA, 4);
        run.set(ValueLayout.JAVA_LONG, KvmRunLayout.EMULATION_FLAGS, 1);
        run.set(ValueLayout.JAVA_BYTE, KvmRunLayout.EMULATION_INSN_SIZE, (byte) 3);
        run.asSlice(KvmRunLayout.EMULATION_INSN_BYTES, 3).copyFrom(MemorySegment.ofArray(new byte[] {0x0f, 0x01, (byte) 0xd9}));

        assertEquals(new VcpuExit.InternalError(
                        "KVM_EXIT_INTERNAL_ERROR: instruction emulation failed (suberror 1), instruction bytes 0f 01 d9"),
                KvmExitDecoder.decode(run));
    }

    @Test
    void otherExitsAreDecodedOrNamed() {
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.SHUTDOWN);
        assertEquals(new VcpuExit.Shutdown("triple fault or shutdown"), KvmExitDecoder.decode(run));
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.HLT);
        assertEquals(new VcpuExit.Halt(), KvmExitDecoder.decode(run));
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.INTR);
        assertEquals(new VcpuExit.Interrupted(), KvmExitDecoder.decode(run));
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.UNKNOWN);
        run.set(ValueLayout.JAVA_LONG, KvmRunLayout.HW_EXIT_REASON, 0x30);
        assertEquals(new VcpuExit.InternalError("KVM_EXIT_UNKNOWN: hardware exit reason 0x30"), KvmExitDecoder.decode(run));
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, KvmExitReason.DEBUG);
        assertEquals(new VcpuExit.InternalError("unexpected KVM exit: KVM_EXIT_DEBUG (4)"), KvmExitDecoder.decode(run));
        run.set(ValueLayout.JAVA_INT, KvmRunLayout.EXIT_REASON, 999);
        assertEquals(new VcpuExit.InternalError("unexpected KVM exit: exit reason 999"), KvmExitDecoder.decode(run));
    }
}
