package io.vmguard.virtio.mmio;

import io.vmguard.testing.GuestAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.EchoDevice;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The virtio-mmio register protocol as Linux's virtio_mmio driver drives it. */
class VirtioMmioTransportTest {
    private static final long DEVICE_FEATURE_BIT = 1L << 3;

    private final GuestRam ram = new GuestRam(1 << 20);
    private final DriverRings driver = new DriverRings(ram, 8);
    private final EchoDevice device = new EchoDevice(DeviceType.ENTROPY, DEVICE_FEATURE_BIT, 1, 256, 0xa0);
    private final List<Boolean> line = new ArrayList<>();
    private final VirtioMmioTransport transport = new VirtioMmioTransport(device, "test-device", ram.dma(), line::add);


    private int read(int offset) {
        return (int) GuestAccess.read(transport, offset, 4);
    }

    private void write(int offset, int value) {
        GuestAccess.write(transport, offset, 4, value);
    }

    /** Linux's probe and set-up sequence, accepting {@code features}. */
    private void initialise(long features, boolean setUpQueue) {
        write(0x070, DeviceStatus.ACKNOWLEDGE);
        write(0x070, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        write(0x024, 0);
        write(0x020, (int) features);
        write(0x024, 1);
        write(0x020, (int) (features >>> 32));
        write(0x070, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        if (setUpQueue) {
            Virtqueue.Layout layout = driver.layout();
            write(0x030, 0);
            write(0x038, layout.size());
            write(0x080, (int) layout.descriptorTable());
            write(0x084, (int) (layout.descriptorTable() >>> 32));
            write(0x090, (int) layout.driverArea());
            write(0x094, 0);
            write(0x0a0, (int) layout.deviceArea());
            write(0x0a4, 0);
            write(0x044, 1);
        }
        write(0x070, read(0x070) | DeviceStatus.DRIVER_OK);
    }

    @Test
    void identifiesItselfAsAVersion2DeviceOfItsType() {
        assertEquals(0x74726976, read(0x000));
        assertEquals(2, read(0x004));
        assertEquals(DeviceType.ENTROPY.id(), read(0x008));
        write(0x014, 0);
        assertEquals((int) (DEVICE_FEATURE_BIT | 1L << 28 | 1L << 29), read(0x010));
        write(0x014, 1);
        assertEquals(1, read(0x010), "VERSION_1");
        assertEquals(256, read(0x034), "QueueNumMax of queue 0");
        write(0x030, 1);
        assertEquals(0, read(0x034), "no queue 1");
    }

    @Test
    void aKickIsServedAndTheLineFollowsInterruptStatusUntilAcknowledged() {
        driver.offer(DriverRings.Buffer.writable(ram.alloc(8), 8));
        initialise(DEVICE_FEATURE_BIT | 1L << 32, true);
        assertNotNull(device.context);
        write(0x050, 0);
        assertEquals(List.of(0), device.notified);
        assertEquals(1, driver.usedIndex());
        assertEquals(1, read(0x060), "used-buffer interrupt pending");
        assertEquals(List.of(true), line);
        write(0x064, 1);
        assertEquals(0, read(0x060));
        assertEquals(List.of(true, false), line);
    }

    @Test
    void featuresTheDeviceDidNotOfferOrAMissingVersion1LeaveFeaturesOkClear() {
        initialise(1L << 20 | 1L << 32, false);
        assertEquals(0, read(0x070) & DeviceStatus.FEATURES_OK);
        write(0x070, 0);
        initialise(DEVICE_FEATURE_BIT, false);
        assertEquals(0, read(0x070) & DeviceStatus.FEATURES_OK);
    }

    @Test
    void aQueueOutsideGuestMemorySetsNeedsResetAndRaisesAConfigurationInterrupt() {
        write(0x070, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        write(0x024, 1);
        write(0x020, 1);
        write(0x070, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        write(0x030, 0);
        write(0x038, 8);
        write(0x080, 0);
        write(0x084, 0x7fff); // far beyond guest memory
        write(0x044, 1);
        write(0x070, read(0x070) | DeviceStatus.DRIVER_OK);
        assertTrue((read(0x070) & DeviceStatus.DEVICE_NEEDS_RESET) != 0);
        assertEquals(2, read(0x060), "configuration-change interrupt");
        assertNull(device.context, "never activated on a broken queue");
        write(0x050, 0);
        assertTrue(device.notified.isEmpty(), "kicks are ignored until reset");
    }

    @Test
    void aMalformedChainAtRunTimeSetsNeedsResetAndAResetRecovers() {
        driver.publish(200); // a head far outside the table
        initialise(1L << 32, true);
        int generation = read(0x0fc);
        write(0x050, 0);
        assertTrue((read(0x070) & DeviceStatus.DEVICE_NEEDS_RESET) != 0);
        assertFalse(read(0x0fc) == generation, "configuration generation moves on");
        write(0x070, 0);
        assertEquals(0, read(0x070));
        assertEquals(1, device.resets);
        assertEquals(0, read(0x060));
    }

    @Test
    void aDeviceBugBecomesNeedsResetNotAnExceptionOutOfTheVmm() {
        initialise(1L << 32, true);
        device.failWith = new IllegalStateException("bug");
        write(0x050, 0);
        assertTrue((read(0x070) & DeviceStatus.DEVICE_NEEDS_RESET) != 0);
    }

    @Test
    void whatADeviceSendsThroughAContextTheDriverHasResetIsDropped() {
        initialise(1L << 32, true);
        DeviceContext late = device.context;
        write(0x070, 0);
        initialise(1L << 32, true);
        line.clear();

        // A device thread that was a moment late: neither its interrupt nor its failure reaches the new life.
        late.interrupt().usedBuffers(0);
        late.failure().failed("receive buffer fault from before the reset");

        assertEquals(0, read(0x060), "InterruptStatus");
        assertTrue(line.isEmpty(), "no interrupt");
        assertEquals(0, read(0x070) & DeviceStatus.DEVICE_NEEDS_RESET);
        device.context.failure().failed("a fault now");
        assertTrue((read(0x070) & DeviceStatus.DEVICE_NEEDS_RESET) != 0, "the current context still fails the device");
    }

    @Test
    void queueSettingsAreFrozenOnceTheQueueIsReady() {
        initialise(1L << 32, true);
        write(0x030, 0);
        write(0x038, 4);
        write(0x080, 0x5000);
        Virtqueue.Layout expected = driver.layout();
        assertEquals(expected.size(), transport.control().queue(0).size());
        assertEquals(expected.descriptorTable(), transport.control().queue(0).descriptorTable());
    }

    @Test
    void configurationSpaceIsReadAtAnyWidthAndOddRegisterAccessesAreHarmless() {
        MemorySegment one = MemorySegment.ofArray(new byte[1]);
        transport.read(0x102, one);
        assertEquals((byte) 0xa2, one.get(ValueLayout.JAVA_BYTE, 0));
        MemorySegment two = MemorySegment.ofArray(new byte[2]);
        transport.read(0x002, two);
        assertEquals(0, two.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0), "registers are 32-bit only");
        transport.write(0x071, two); // ignored, no exception
        assertEquals(0, read(0x070));
    }
}
