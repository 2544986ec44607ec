package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.bus.BusRange;
import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.RecordingDevice.Access;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * What every engine must do with the same ring-3 payloads: compute as Java does, port I/O both ways,
 * string I/O one element per exit, MMIO both ways at every width, and start a vCPU in the reset state. Each engine's test class extends
 * this and says how to start a payload on it, so the engines are held to one contract.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
public abstract class EnginePayloadContract {
    protected static final Duration RUN_LIMIT = Duration.ofSeconds(50);

    /** A machine of the engine under test, about to run {@code payload}. */
    protected abstract PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled)
            throws EngineException, NativeException;

    @Test
    void computationInRing3MatchesJava() throws Exception {
        try (PayloadMachine machine = start("compute", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            List<Long> halves = harness.results.writtenValues();
            assertEquals(2, halves.size(), "two 32-bit halves reported");
            assertEquals(expectedComputation(5_000_000), halves.get(0) | (halves.get(1) << 32));
        }
    }

    /** compute.S in Java. */
    private static long expectedComputation(int rounds) {
        long x = 0x9e3779b97f4a7c15L;
        long acc = 0;
        for (long i = rounds; i > 0; i--) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            acc = Long.rotateLeft(acc + x * i, 5);
        }
        return acc;
    }

    @Test
    void portOutputReachesTheUartAndPortInputReachesTheGuest() throws Exception {
        try (PayloadMachine machine = start("port-io", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();
            Map<Integer, Long> answers = Map.of(1, 0x5aL, 2, 0xbeefL, 4, 0xcafef00dL);
            harness.pio.register(new BusRange(PayloadHarness.ANSWER_PORT, PayloadHarness.PORT_WIDTH),
                    new RecordingDevice((offset, width) -> answers.get(width)));

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            assertEquals("hello from ring 3\n", harness.uartText());
            assertEquals(List.of(new Access(0, 1, 0x5a), new Access(0, 2, 0xbeef), new Access(0, 4, 0xcafef00dL)),
                    harness.echo.writes(), "each value read at each width, echoed back by the guest");
        }
    }

    @Test
    void stringIoHandsOutOneExitPerElementAndReadsLandInOrder() throws Exception {
        try (PayloadMachine machine = start("string-io", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            assertEquals("string I/O works\n", harness.uartText(), "REP OUTSB, one exit per byte");
            assertEquals(List.of(new Access(0, 2, 0x1111), new Access(0, 2, 0x2222), new Access(0, 2, 0x3333),
                            new Access(0, 4, 0x44444444), new Access(0, 4, 0x55555555)),
                    harness.results.writes(), "REP OUTSW and REP OUTSL, one exit per element");
            byte[] expected = new byte[48];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (byte) i;
            }
            assertArrayEquals(expected, machine.memory.readBytes(machine.payload().symbol("buffer"), 48),
                    "REP INSB/INSW/INSL stored every element where the guest expects it");
            assertEquals(48, harness.echo.writes().size());
            for (int i = 0; i < 48; i++) {
                assertEquals(i, harness.echo.writes().get(i).value(), "echoed byte " + i);
            }
        }
    }

    @Test
    void mmioReadsAndWritesAtEveryWidthReachTheDevice() throws Exception {
        try (PayloadMachine machine = start("mmio", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();
            Map<Long, Long> registers = Map.of(0x40L, 0xa5L, 0x50L, 0x1234L, 0x60L, 0xdeadbeefL, 0x70L, 0x0123456789abcdefL);
            RecordingDevice device = new RecordingDevice((offset, width) -> registers.get(offset));
            harness.mmio.register(new BusRange(PayloadHarness.MMIO_BASE, 0x1000), device);

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            assertEquals(List.of(new Access(0x00, 1, 0x11), new Access(0x10, 2, 0x2233),
                    new Access(0x20, 4, 0x44556677L), new Access(0x30, 8, 0x8899aabbccddeeffL)), device.writes());
            assertEquals(List.of(new Access(0x40, 1, 0xa5), new Access(0x50, 2, 0x1234),
                    new Access(0x60, 4, 0xdeadbeefL), new Access(0x70, 8, 0x0123456789abcdefL)), device.reads());
            assertEquals(List.of(0xa5L, 0x1234L, 0xdeadbeefL, 0x89abcdefL, 0x01234567L), harness.results.writtenValues(),
                    "the guest received each value read");
        }
    }

    @Test
    void mmioAccessesAcrossPagesAndWiderThanEightBytesGetTheDevicesBytes() throws Exception {
        try (PayloadMachine machine = start("mmio-split", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();
            MemoryLikeDevice device = new MemoryLikeDevice(0x5000);
            harness.mmio.register(new BusRange(PayloadHarness.MMIO_BASE, device.size()), device);
            long xaddOld = device.value(0x2ffc, 8);

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            List<Long> expected = new java.util.ArrayList<>();
            for (long value : new long[] {device.value(0xffd, 8), device.value(0x200, 8), device.value(0x208, 8),
                    device.value(0x1ff8, 8), device.value(0x2000, 8), xaddOld}) {
                expected.add(value & 0xffff_ffffL);
                expected.add(value >>> 32);
            }
            assertEquals(expected, harness.results.writtenValues(), "8-byte load across a page, MOVDQU inside and "
                    + "across a page, LOCK XADD across a page: the device's bytes, in order");
            assertEquals(xaddOld + 1, device.value(0x2ffc, 8), "LOCK XADD wrote the sum back across the page boundary");
            assertArrayEquals(device.bytes(0x3ff0, 32), machine.memory.readBytes(machine.payload().symbol("buffer"), 32),
                    "REP MOVSB copied the device's bytes across the boundary");
        }
    }

    @Test
    void freshVcpuHasResetFpuApicIdZeroAndTheKvmSignature() throws Exception {
        try (PayloadMachine machine = start("cpu-state", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            List<Long> values = harness.results.writtenValues();
            assertEquals(0x1f80L, values.get(0), "MXCSR");
            assertEquals(0x37fL, values.get(1), "x87 control word");
            assertEquals(0L, values.get(2), "initial APIC id of vCPU 0");
            String signature = ascii(values.get(3)) + ascii(values.get(4)) + ascii(values.get(5));
            // KVM's paravirtual leaf; the interpreter offers it too, since Linux uses kvmclock only under it.
            assertEquals("KVMKVMKVM\0\0\0", signature);
        }
    }

    private static String ascii(long register) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            text.append((char) ((register >>> (8 * i)) & 0xff));
        }
        return text.toString();
    }
}
