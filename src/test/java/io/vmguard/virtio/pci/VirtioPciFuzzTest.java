package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.Bus;
import io.vmguard.bus.InterruptLine;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciRoot;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.Virtqueue;
import io.vmguard.virtio.rng.VirtioRng;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random guest traffic at a virtio-pci function with a real virtio-rng behind it, on a PCI root: config
 * space (bus mastering toggled, BARs moved, MSI-X on, off and masked, the pci_cfg window), the common
 * configuration at random widths and offsets, device_status in random orders, queue_select out of range,
 * queue sizes 0, odd or huge, rings outside RAM, random MSI-X vectors, features beyond those offered,
 * kicks, ISR and device configuration reads, random ring contents ({@link HostilePciDriver}).
 *
 * <p>After every step: nothing threw; a device with DRIVER_OK and no DEVICE_NEEDS_RESET is running and a
 * running device has DRIVER_OK; DEVICE_NEEDS_RESET, once set, leaves only by a reset. Every so often the
 * driver resets the device: it must read back as new, and a by-the-book driver then gets entropy from it.
 */
class VirtioPciFuzzTest {
    private static final int STEPS_PER_SEED = FuzzSeeds.scaled(4_000);
    private static final int RESET_EVERY = 50;
    /** The test's own rings and buffers, bump-allocated after each reset: room for scale 100 and more. */
    private static final int RAM_BYTES = 8 << 20;

    private final GuestRam ram = new GuestRam(RAM_BYTES);
    private final Bus mmio = new Bus("mmio");
    private final WatchedDevice device = new WatchedDevice(new VirtioRng());
    private VirtioPciTransport transport;
    private ModernDriver driver;
    private long bar;

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomConfigAndBarTrafficNeverThrowsAndAResetAlwaysGivesAWorkingDevice(long seed) {
        PciRoot root = new PciRoot(gsi -> InterruptLine.NONE, (address, data) -> { });
        root.registerOn(new Bus("io"), mmio);
        transport = new VirtioPciTransport(device, "fuzz-rng", ram.dma(), root.msiSink());
        root.add(transport);
        bar = transport.config().barAddress(BarLayout.BAR);
        driver = new ModernDriver(transport);
        HostilePciDriver guest = new HostilePciDriver(new Random(seed), transport, mmio, ram);
        int activatedByTheGuest = 0;
        for (int step = 0; step < STEPS_PER_SEED; step++) {
            String where = "seed " + seed + " step " + step + " " + FuzzSeeds.reproduce(seed);
            String action = "nothing yet";
            try {
                int before = transport.control().status();
                int activations = device.activations;
                action = guest.step();
                checkStatus(before, guest.lastStepSetUpAfterReset(), where + " after " + action);
                activatedByTheGuest += device.activations - activations;
                if (step % RESET_EVERY == RESET_EVERY - 1) {
                    action = "reset and use";
                    resetAndUse(where);
                }
            } catch (RuntimeException e) {
                throw new AssertionError(where + " after " + action, e);
            }
        }
        assertTrue(activatedByTheGuest > 0, "the random driver never got the device running: kicks met no device, seed " + seed);
    }

    /** The device works or says it needs a reset; it never runs behind a driver that reset it. */
    private void checkStatus(int before, boolean setUpAfterReset, String where) {
        int status = transport.control().status();
        boolean needsReset = (status & DeviceStatus.DEVICE_NEEDS_RESET) != 0;
        if ((status & DeviceStatus.DRIVER_OK) != 0 && !needsReset) {
            assertTrue(device.running, "DRIVER_OK without DEVICE_NEEDS_RESET, but the device was never activated, " + where);
        }
        if (device.running) {
            assertTrue((status & DeviceStatus.DRIVER_OK) != 0, "the device runs without DRIVER_OK, " + where);
        }
        if ((before & DeviceStatus.DEVICE_NEEDS_RESET) != 0 && !needsReset && !setUpAfterReset) {
            assertEquals(0, status, "DEVICE_NEEDS_RESET cleared without a reset, " + where);
        }
    }

    /**
     * Status 0 as a driver resets (BAR back home, memory space and bus mastering on), then everything
     * reads back as after power-on, then Linux's sequence; the device must fill a buffer.
     */
    private void resetAndUse(String where) {
        transport.writeConfig(PciConfigSpace.BAR0, 4, (int) bar);
        transport.writeConfig(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        driver.status(0);
        assertReadsAsNew(where);

        DriverRings rings = new DriverRings(ram, 8);
        driver.status(DeviceStatus.ACKNOWLEDGE);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4, 1);
        assertEquals(1, driver.common(CommonConfig.DEVICE_FEATURE, 4) & 1, "VERSION_1 offered, " + where);
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, VirtioFeatures.VERSION_1 >>> 32);
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
        driver.common(CommonConfig.DRIVER_FEATURE, 4, 0);
        driver.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        assertEquals(DeviceStatus.FEATURES_OK, driver.status() & DeviceStatus.FEATURES_OK, "features accepted, " + where);
        Virtqueue.Layout layout = rings.layout();
        driver.common(CommonConfig.QUEUE_SELECT, 2, 0);
        driver.common(CommonConfig.QUEUE_SIZE, 2, layout.size());
        queueAddress(CommonConfig.QUEUE_DESC_LO, layout.descriptorTable());
        queueAddress(CommonConfig.QUEUE_DRIVER_LO, layout.driverArea());
        queueAddress(CommonConfig.QUEUE_DEVICE_LO, layout.deviceArea());
        driver.common(CommonConfig.QUEUE_ENABLE, 2, 1);
        driver.status(driver.status() | DeviceStatus.DRIVER_OK);
        long buffer = ram.alloc(16);
        int head = rings.offer(Buffer.writable(buffer, 16));
        driver.kick(0);
        assertEquals(0, driver.status() & DeviceStatus.DEVICE_NEEDS_RESET, "needs reset after a clean set-up, " + where);
        var used = rings.takeUsed();
        assertEquals(1, used.size(), "entropy after a reset, " + where);
        assertEquals(head, used.getFirst().head(), where);
        assertEquals(16, used.getFirst().length(), "bytes of entropy, " + where);
        assertFalse(Arrays.equals(new byte[16], ram.read(buffer, 16)), "the buffer was filled, " + where);
    }

    /** What a driver reads after status 0: nothing of the previous driver's settings survives. */
    private void assertReadsAsNew(String where) {
        assertEquals(0, driver.status(), "status after reset, " + where);
        assertEquals(0, driver.isr(), "ISR status after reset, " + where);
        assertFalse(transport.config().interruptRequested(), "INTx still requested after reset, " + where);
        assertFalse(device.running, "the device still runs after reset, " + where);
        assertEquals(0, driver.common(CommonConfig.QUEUE_SELECT, 2), "queue_select, " + where);
        assertEquals(0, driver.common(CommonConfig.DEVICE_FEATURE_SELECT, 4), "device_feature_select, " + where);
        assertEquals(0, driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4), "driver_feature_select, " + where);
        assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.MSIX_CONFIG, 2), "config_msix_vector, " + where);
        for (int select = 0; select < 2; select++) {
            driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, select);
            assertEquals(0, driver.common(CommonConfig.DRIVER_FEATURE, 4), "driver features word " + select + ", " + where);
        }
        driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
        for (int queue = 0; queue < transport.control().queueCount(); queue++) {
            driver.common(CommonConfig.QUEUE_SELECT, 2, queue);
            assertEquals(0, driver.common(CommonConfig.QUEUE_ENABLE, 2), "queue " + queue + " enabled, " + where);
            assertEquals(device.maxQueueSize(), driver.common(CommonConfig.QUEUE_SIZE, 2), "queue " + queue + " size, " + where);
            assertEquals(VirtioControl.NO_VECTOR, driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2), "queue " + queue + " vector, " + where);
            for (int field = CommonConfig.QUEUE_DESC_LO; field <= CommonConfig.QUEUE_DEVICE_HI; field += 4) {
                assertEquals(0, driver.common(field, 4), "queue " + queue + " address field 0x" + Integer.toHexString(field) + ", " + where);
            }
        }
        driver.common(CommonConfig.QUEUE_SELECT, 2, 0);
    }

    private void queueAddress(int lowField, long address) {
        driver.common(lowField, 4, address & 0xffff_ffffL);
        driver.common(lowField + 4, 4, address >>> 32);
    }

    /** The rng, watched: whether the transport has it running (activated and not reset since), and how often it started. */
    private static final class WatchedDevice implements VirtioDevice {
        private final VirtioDevice device;
        volatile boolean running;
        volatile int activations;

        WatchedDevice(VirtioDevice device) {
            this.device = device;
        }

        @Override
        public DeviceType type() {
            return device.type();
        }

        @Override
        public long features() {
            return device.features();
        }

        @Override
        public int queueCount() {
            return device.queueCount();
        }

        @Override
        public int maxQueueSize() {
            return device.maxQueueSize();
        }

        @Override
        public void readConfig(long offset, MemorySegment data) {
            device.readConfig(offset, data);
        }

        @Override
        public void writeConfig(long offset, MemorySegment data) {
            device.writeConfig(offset, data);
        }

        @Override
        public void activate(DeviceContext context) {
            running = true;
            activations++;
            device.activate(context);
        }

        @Override
        public void queueNotified(int queueIndex) throws QueueException {
            device.queueNotified(queueIndex);
        }

        @Override
        public void reset() {
            running = false;
            device.reset();
        }
    }
}
