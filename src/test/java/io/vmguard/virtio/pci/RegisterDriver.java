package io.vmguard.virtio.pci;

import io.vmguard.testing.GuestAccess;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.Virtqueue;
import io.vmguard.virtio.mmio.VirtioMmioTransport;

/**
 * A driver's register accesses as a vCPU makes them, over either transport, for tests that drive the
 * device through its whole life (reset, feature negotiation, queue set-up, DRIVER_OK, kicks) and do not
 * care which bus it sits on.
 */
sealed interface RegisterDriver {
    int status();

    void status(int value);

    /** Writes both words of the driver's features. */
    void acceptFeatures(long features);

    /** Sets queue {@code index} up at {@code layout} (with its own MSI-X vector where there is MSI-X) and enables it. */
    void enableQueue(int index, Virtqueue.Layout layout);

    void kick(int queue);

    /** What an interrupt handler does: reads (virtio-pci ISR) or acknowledges (virtio-mmio) the interrupt status. */
    void acknowledgeInterrupt();

    /** Linux's probe up to FEATURES_OK; returns whether the device accepted the features. */
    default boolean negotiate(long features) {
        status(0);
        status(DeviceStatus.ACKNOWLEDGE);
        status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        acceptFeatures(features);
        status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        return (status() & DeviceStatus.FEATURES_OK) != 0;
    }

    /** virtio-pci through its common configuration BAR structure, with MSI-X (a vector per queue) or INTx. */
    record Pci(ModernDriver driver, boolean msix) implements RegisterDriver {
        static final long MSI_ADDRESS = 0xfee0_0000L;

        Pci(VirtioPciTransport transport, boolean msix, int queues) {
            this(new ModernDriver(transport), msix);
            driver.command(PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
            if (msix) {
                driver.msix(true);
                for (int vector = 0; vector <= queues; vector++) {
                    driver.msixEntry(vector, MSI_ADDRESS, 0x40 + vector);
                }
            }
        }

        @Override
        public int status() {
            return driver.status();
        }

        @Override
        public void status(int value) {
            driver.status(value);
            if (msix && value == 0) {
                driver.common(CommonConfig.MSIX_CONFIG, 2, 0); // a reset forgets the config vector
            }
        }

        @Override
        public void acceptFeatures(long features) {
            driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
            driver.common(CommonConfig.DRIVER_FEATURE, 4, features & 0xffff_ffffL);
            driver.common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
            driver.common(CommonConfig.DRIVER_FEATURE, 4, features >>> 32);
        }

        @Override
        public void enableQueue(int index, Virtqueue.Layout layout) {
            driver.common(CommonConfig.QUEUE_SELECT, 2, index);
            driver.common(CommonConfig.QUEUE_SIZE, 2, layout.size());
            address(CommonConfig.QUEUE_DESC_LO, layout.descriptorTable());
            address(CommonConfig.QUEUE_DRIVER_LO, layout.driverArea());
            address(CommonConfig.QUEUE_DEVICE_LO, layout.deviceArea());
            if (msix) {
                driver.common(CommonConfig.QUEUE_MSIX_VECTOR, 2, index + 1);
            }
            driver.common(CommonConfig.QUEUE_ENABLE, 2, 1);
        }

        private void address(int lowField, long address) {
            driver.common(lowField, 4, address & 0xffff_ffffL);
            driver.common(lowField + 4, 4, address >>> 32);
        }

        @Override
        public void kick(int queue) {
            driver.kick(queue);
        }

        @Override
        public void acknowledgeInterrupt() {
            driver.isr();
        }
    }

    /** virtio-mmio through its 32-bit registers (virtio 1.2, 4.2.2). */
    record Mmio(VirtioMmioTransport transport) implements RegisterDriver {
        private static final int DRIVER_FEATURES = 0x020;
        private static final int DRIVER_FEATURES_SEL = 0x024;
        private static final int QUEUE_SEL = 0x030;
        private static final int QUEUE_NUM = 0x038;
        private static final int QUEUE_READY = 0x044;
        private static final int QUEUE_NOTIFY = 0x050;
        private static final int INTERRUPT_STATUS = 0x060;
        private static final int INTERRUPT_ACK = 0x064;
        private static final int STATUS = 0x070;
        private static final int QUEUE_DESC_LOW = 0x080;
        private static final int QUEUE_DRIVER_LOW = 0x090;
        private static final int QUEUE_DEVICE_LOW = 0x0a0;

        private int read(int offset) {
            return (int) GuestAccess.read(transport, offset, 4);
        }

        private void write(int offset, int value) {
            GuestAccess.write(transport, offset, 4, value);
        }

        @Override
        public int status() {
            return read(STATUS);
        }

        @Override
        public void status(int value) {
            write(STATUS, value);
        }

        @Override
        public void acceptFeatures(long features) {
            write(DRIVER_FEATURES_SEL, 0);
            write(DRIVER_FEATURES, (int) features);
            write(DRIVER_FEATURES_SEL, 1);
            write(DRIVER_FEATURES, (int) (features >>> 32));
        }

        @Override
        public void enableQueue(int index, Virtqueue.Layout layout) {
            write(QUEUE_SEL, index);
            write(QUEUE_NUM, layout.size());
            address(QUEUE_DESC_LOW, layout.descriptorTable());
            address(QUEUE_DRIVER_LOW, layout.driverArea());
            address(QUEUE_DEVICE_LOW, layout.deviceArea());
            write(QUEUE_READY, 1);
        }

        private void address(int low, long address) {
            write(low, (int) address);
            write(low + 4, (int) (address >>> 32));
        }

        @Override
        public void kick(int queue) {
            write(QUEUE_NOTIFY, queue);
        }

        @Override
        public void acknowledgeInterrupt() {
            write(INTERRUPT_ACK, read(INTERRUPT_STATUS));
        }
    }
}
