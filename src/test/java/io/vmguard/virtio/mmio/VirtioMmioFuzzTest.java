package io.vmguard.virtio.mmio;

import io.vmguard.testing.GuestAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.Virtqueue;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.rng.VirtioRng;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random driver traffic on virtio-mmio with a real virtio-rng behind it: status in random orders,
 * QueueSel out of range, queue sizes 0, odd or huge, ring addresses outside RAM, features beyond those
 * offered, notifications at any time, reads of every register, 1/2/4-byte accesses anywhere in the window.
 * No exception may escape; and whatever came before, writing status 0 resets to a clean device that a
 * by-the-book driver then sets up and gets entropy from.
 */
class VirtioMmioFuzzTest {
    private static final int STEPS_PER_SEED = FuzzSeeds.scaled(3_000);
    private static final int RESET_EVERY = 60;
    private static final int[] REGISTERS = {0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070,
            0x080, 0x084, 0x090, 0x094, 0x0a0, 0x0a4, 0x0ac, 0x0b0, 0x0b4, 0x0b8, 0x0bc, 0x0fc, 0x100};

    private final GuestRam ram = new GuestRam(2 << 20);
    private VirtioMmioTransport transport;

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomRegisterTrafficNeverThrowsAndAResetAlwaysGivesAWorkingDevice(long seed) {
        Random random = new Random(seed);
        transport = new VirtioMmioTransport(new VirtioRng(), "fuzz-rng", ram.dma(), level -> { });
        for (int step = 0; step < STEPS_PER_SEED; step++) {
            String where = "seed " + seed + " step " + step + " " + FuzzSeeds.reproduce(seed);
            try {
                randomAccess(random);
                if (step % RESET_EVERY == RESET_EVERY - 1) {
                    resetAndUse(where);
                }
            } catch (RuntimeException e) {
                throw new AssertionError(where, e);
            }
        }
    }

    private void randomAccess(Random random) {
        int offset = random.nextInt(4) == 0 ? random.nextInt(0x200) : REGISTERS[random.nextInt(REGISTERS.length)];
        int size = random.nextInt(4) == 0 ? new int[] {1, 2}[random.nextInt(2)] : 4;
        if (random.nextInt(3) == 0) {
            MemorySegment data = MemorySegment.ofArray(new byte[size]);
            transport.read(offset, data);
            return;
        }
        int value = switch (offset) {
            case 0x070 -> random.nextInt(4) == 0 ? random.nextInt(256) : 1 << random.nextInt(8) | random.nextInt(16); // status
            case 0x030 -> random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(3); // QueueSel, often out of range
            case 0x038 -> new int[] {0, 1, 3, 8, 100, 256, 1 << 15, 0xffff, random.nextInt()}[random.nextInt(9)];
            case 0x080, 0x090, 0x0a0 -> random.nextBoolean() ? random.nextInt(2 << 20) & ~15 : random.nextInt();
            case 0x084, 0x094, 0x0a4 -> random.nextInt(4) == 0 ? random.nextInt() : 0;
            case 0x020 -> random.nextInt(); // features beyond those offered
            default -> random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(4);
        };
        write(offset, size, value);
    }

    /** Status 0, then Linux's sequence; the device must answer as new and fill a buffer. */
    private void resetAndUse(String where) {
        write(0x070, 4, 0);
        assertEquals(0, read(0x070), "status after reset, " + where);
        assertEquals(0, read(0x060), "interrupt status after reset, " + where);
        write(0x030, 4, 0);
        assertEquals(0, read(0x044), "queue 0 not ready after reset, " + where);
        DriverRings rings = new DriverRings(ram, 8);
        write(0x070, 4, DeviceStatus.ACKNOWLEDGE);
        write(0x070, 4, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        write(0x024, 4, 1);
        write(0x020, 4, (int) (VirtioFeatures.VERSION_1 >>> 32));
        write(0x024, 4, 0);
        write(0x020, 4, 0);
        write(0x070, 4, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertEquals(DeviceStatus.FEATURES_OK, read(0x070) & DeviceStatus.FEATURES_OK, "features accepted, " + where);
        Virtqueue.Layout layout = rings.layout();
        write(0x038, 4, layout.size());
        write(0x080, 4, (int) layout.descriptorTable());
        write(0x084, 4, 0);
        write(0x090, 4, (int) layout.driverArea());
        write(0x094, 4, 0);
        write(0x0a0, 4, (int) layout.deviceArea());
        write(0x0a4, 4, 0);
        write(0x044, 4, 1);
        write(0x070, 4, read(0x070) | DeviceStatus.DRIVER_OK);
        long buffer = ram.alloc(16);
        int head = rings.offer(Buffer.writable(buffer, 16));
        write(0x050, 4, 0);
        assertEquals(0, read(0x070) & DeviceStatus.DEVICE_NEEDS_RESET, "needs reset after a clean set-up, " + where);
        var used = rings.takeUsed();
        assertEquals(1, used.size(), "entropy after a reset, " + where);
        assertEquals(head, used.getFirst().head(), where);
    }

    private int read(int offset) {
        return (int) GuestAccess.read(transport, offset, 4);
    }

    private void write(int offset, int size, int value) {
        GuestAccess.write(transport, offset, size, value);
    }
}
