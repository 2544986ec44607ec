package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.bus.BusRange;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.MemoryLikeDevice;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * Instructions that need several device reads (across a page, wider than 8 bytes) complete on the
 * interpreter with the device's bytes, and no device byte is read twice: device reads can have side
 * effects, and the instruction is run again after each answer. (The contract both engines meet is in
 * EnginePayloadContract; these are the interpreter's own guarantees.)
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpMmioTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);

    private static MemoryLikeDevice run(String payload, PayloadHarness harness, PayloadMachine machine) throws Exception {
        MemoryLikeDevice device = new MemoryLikeDevice(0x5000);
        harness.mmio.register(new BusRange(PayloadHarness.MMIO_BASE, device.size()), device);
        assertEquals(0, harness.runToExit(machine.vcpu, LIMIT));
        return device;
    }

    /** Every byte in the ranges is read exactly once, every other byte never. */
    private static void assertReadOnce(MemoryLikeDevice device, List<int[]> ranges) {
        for (int offset = 0; offset < device.size(); offset++) {
            int at = offset;
            int expected = ranges.stream().anyMatch(r -> at >= r[0] && at < r[1]) ? 1 : 0;
            assertEquals(expected, device.reads(offset), "reads of device byte 0x" + Integer.toHexString(offset));
        }
    }

    @Test
    void splitAndWideReadsReachEachDeviceByteOnce() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "mmio-split", Ring.USER, false)) {
            MemoryLikeDevice device = run("mmio-split", new PayloadHarness(), machine);
            assertReadOnce(device, List.of(new int[] {0xffd, 0x1005}, new int[] {0x200, 0x210},
                    new int[] {0x1ff8, 0x2008}, new int[] {0x2ffc, 0x3004}, new int[] {0x3ff0, 0x4010}));
        }
    }

    @Test
    void cmpxchg16bAndFldOfEightyBitsFromDeviceMemoryComplete() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "mmio-wide", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();
            MemoryLikeDevice device = run("mmio-wide", harness, machine);

            long low = device.value(0x300, 8);
            long high = device.value(0x308, 8);
            assertEquals(List.of(low & 0xffff_ffffL, low >>> 32, high & 0xffff_ffffL, high >>> 32),
                    harness.results.writtenValues(), "CMPXCHG16B loaded the 16 bytes it compared");
            assertArrayEquals(device.bytes(0xffb, 10), machine.memory.readBytes(machine.payload().symbol("extended"), 10),
                    "FLD m80 across the page boundary, stored back by FSTP m80, is the device's 80-bit value");
            assertEquals(1, device.reads(0xffb), "FLD m80 read each byte once");
            assertEquals(1, device.reads(0x1004));
        }
    }
}
