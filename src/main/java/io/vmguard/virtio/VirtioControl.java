package io.vmguard.virtio;

import io.vmguard.dma.DmaSpace;
import io.vmguard.events.GuestLog;
import java.util.ArrayList;
import java.util.List;

/**
 * The part of a virtio transport that does not depend on the bus: device status, feature negotiation,
 * queue set-up, activation, reset and DEVICE_NEEDS_RESET. virtio-mmio and virtio-pci map their registers
 * onto it. Synchronized: the vCPU drives it, and a device's own threads may report failures.
 *
 * <p>It calls into the device (activate, queueNotified, reset) holding its lock, and the device's
 * interrupts and failure reports take that lock too: that is why a device sends them only after releasing
 * its own ({@link VirtioDevice}'s lock rule). Each activation hands the device a door back that closes at
 * the reset ending it: what the device sends through it afterwards is dropped, so a device thread that was
 * just late cannot interrupt, or set DEVICE_NEEDS_RESET in, the driver's next life of the device.
 */
public final class VirtioControl {
    /** The MSI-X vector number that means "no interrupt" (virtio-pci's VIRTIO_MSI_NO_VECTOR). */
    public static final int NO_VECTOR = 0xffff;

    private final VirtioDevice device;
    private final String name;
    private final DmaSpace dma;
    private final VirtioInterrupt interrupt;
    private final long offeredFeatures;
    private final List<QueueConfig> queues = new ArrayList<>();

    private int status;
    private long driverFeatures;
    private int configGeneration;
    /** MSI-X vector for configuration changes (virtio-pci only). */
    private int configVector = NO_VECTOR;
    private boolean active;
    /** Counts activations and resets: an {@link Activation} holding an older number is closed. */
    private int generation;

    /** The driver's settings for one queue, as written through the transport before it is enabled. */
    public static final class QueueConfig {
        private final int maxSize;
        int size;
        boolean ready;
        long descriptorTable;
        long driverArea;
        long deviceArea;
        /** MSI-X vector for this queue (virtio-pci only); {@link #NO_VECTOR} means none. */
        int vector = NO_VECTOR;

        QueueConfig(int maxSize) {
            this.maxSize = maxSize;
            this.size = maxSize;
        }

        public int maxSize() {
            return maxSize;
        }

        public int size() {
            return size;
        }

        public boolean ready() {
            return ready;
        }

        public long descriptorTable() {
            return descriptorTable;
        }

        public long driverArea() {
            return driverArea;
        }

        public long deviceArea() {
            return deviceArea;
        }

        public int vector() {
            return vector;
        }
    }

    /**
     * @param name how the device is named in messages (e.g. "virtio-blk 0")
     * @param extraFeatures transport bits offered on top of the device's own and the ring features
     *                      (e.g. ACCESS_PLATFORM when an IOMMU translates this device's DMA)
     */
    public VirtioControl(VirtioDevice device, String name, DmaSpace dma, VirtioInterrupt interrupt, long extraFeatures) {
        this.device = device;
        this.name = name;
        this.dma = dma;
        this.interrupt = interrupt;
        this.offeredFeatures = device.features() | VirtioFeatures.TRANSPORT | extraFeatures;
        for (int i = 0; i < device.queueCount(); i++) {
            queues.add(new QueueConfig(device.maxQueueSize()));
        }
    }

    public VirtioDevice device() {
        return device;
    }

    public String name() {
        return name;
    }

    public int queueCount() {
        return queues.size();
    }

    /** Queue {@code index}'s settings, or null for a queue the device does not have. */
    public synchronized QueueConfig queue(int index) {
        return index >= 0 && index < queues.size() ? queues.get(index) : null;
    }

    /** Word {@code select} (0 = bits 0-31, 1 = bits 32-63) of the features the device offers. */
    public int offeredFeatureWord(int select) {
        return select == 0 ? (int) offeredFeatures : select == 1 ? (int) (offeredFeatures >>> 32) : 0;
    }

    public synchronized int driverFeatureWord(int select) {
        return select == 0 ? (int) driverFeatures : select == 1 ? (int) (driverFeatures >>> 32) : 0;
    }

    /** The driver accepts features; ignored once FEATURES_OK is set (the spec freezes them then). */
    public synchronized void writeDriverFeatureWord(int select, int value) {
        if ((status & DeviceStatus.FEATURES_OK) != 0 || select < 0 || select > 1) {
            return;
        }
        int shift = select * 32;
        driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | (Integer.toUnsignedLong(value) << shift);
    }

    public synchronized int status() {
        return status;
    }

    public synchronized int configGeneration() {
        return configGeneration;
    }

    /**
     * The driver writes the status byte. Zero resets the device. FEATURES_OK sticks only for a subset of
     * what was offered that includes VERSION_1 (the driver reads it back to learn the outcome); DRIVER_OK
     * activates the device with the queues the driver enabled.
     */
    public synchronized void writeStatus(int value) {
        value &= 0xff;
        if (value == 0) {
            reset();
            return;
        }
        if ((value & DeviceStatus.FEATURES_OK) != 0 && (status & DeviceStatus.FEATURES_OK) == 0 && !acceptableFeatures()) {
            value &= ~DeviceStatus.FEATURES_OK;
        }
        // The driver only adds bits (virtio 1.2, 2.1.2: it MUST NOT clear one); only a reset clears them, so a
        // write of fewer bits never reads back as 0 or stops DRIVER_OK behind a running device. NEEDS_RESET
        // is the device's to set.
        status |= value & ~DeviceStatus.DEVICE_NEEDS_RESET;
        if ((status & DeviceStatus.DRIVER_OK) != 0 && !active && (status & DeviceStatus.DEVICE_NEEDS_RESET) == 0) {
            activate();
        }
    }

    private boolean acceptableFeatures() {
        return (driverFeatures & ~offeredFeatures) == 0 && VirtioFeatures.has(driverFeatures, VirtioFeatures.VERSION_1);
    }

    /** Queue settings may change only while the device is not running and the queue not enabled. */
    public synchronized boolean queueWritable(int index) {
        QueueConfig queue = queue(index);
        return queue != null && !queue.ready && !active;
    }

    public synchronized void setQueueSize(int index, int size) {
        if (queueWritable(index)) {
            queues.get(index).size = size;
        }
    }

    public synchronized void setQueueAddresses(int index, long descriptorTable, long driverArea, long deviceArea) {
        if (queueWritable(index)) {
            QueueConfig queue = queues.get(index);
            queue.descriptorTable = descriptorTable;
            queue.driverArea = driverArea;
            queue.deviceArea = deviceArea;
        }
    }

    /** Sets one 32-bit half of a queue address: {@code part} 0-5 = descriptor lo/hi, driver lo/hi, device lo/hi. */
    public synchronized void setQueueAddressPart(int index, int part, int value) {
        if (!queueWritable(index) || part < 0 || part > 5) {
            return;
        }
        QueueConfig queue = queues.get(index);
        long current = switch (part / 2) {
            case 0 -> queue.descriptorTable;
            case 1 -> queue.driverArea;
            default -> queue.deviceArea;
        };
        int shift = (part % 2) * 32;
        long updated = (current & ~(0xffff_ffffL << shift)) | (Integer.toUnsignedLong(value) << shift);
        switch (part / 2) {
            case 0 -> queue.descriptorTable = updated;
            case 1 -> queue.driverArea = updated;
            default -> queue.deviceArea = updated;
        }
    }

    public synchronized void setQueueVector(int index, int vector) {
        QueueConfig queue = queue(index);
        if (queue != null) {
            queue.vector = vector & 0xffff;
        }
    }

    /** The MSI-X vector the driver chose for queue {@code index}; {@link #NO_VECTOR} for none or no such queue. */
    public synchronized int queueVector(int index) {
        QueueConfig queue = queue(index);
        return queue == null ? NO_VECTOR : queue.vector;
    }

    /** The MSI-X vector the driver chose for configuration changes; {@link #NO_VECTOR} until it chooses. */
    public synchronized int configVector() {
        return configVector;
    }

    /** The transport checks the number against its MSI-X table; a reset forgets it. */
    public synchronized void setConfigVector(int vector) {
        configVector = vector & 0xffff;
    }

    public synchronized void setQueueReady(int index, boolean ready) {
        if (queue(index) != null && !active) {
            queues.get(index).ready = ready;
        }
    }

    /** The driver kicked queue {@code index}. Kicks before DRIVER_OK, after a failure or for absent queues are ignored. */
    public void notifyQueue(int index) {
        int kicked;
        synchronized (this) {
            if (!active || (status & DeviceStatus.DEVICE_NEEDS_RESET) != 0 || queue(index) == null || !queues.get(index).ready) {
                return;
            }
            kicked = generation;
        }
        // Outside the lock: the device takes its own, and its threads send through this one meanwhile.
        try {
            device.queueNotified(index);
        } catch (QueueException e) {
            fail(kicked, e.getMessage());
        } catch (RuntimeException e) {
            // A device bug must not take the VMM down; the guest sees a broken device instead.
            fail(kicked, "internal error: " + e);
        }
    }

    /** The device found the contract broken: DEVICE_NEEDS_RESET, and a configuration interrupt to say so. */
    public void fail(String reason) {
        int current;
        synchronized (this) {
            current = generation;
        }
        fail(current, reason);
    }

    /** As {@link #fail(String)}, unless the driver has reset the device since {@code failed} began. */
    private void fail(int failed, String reason) {
        synchronized (this) {
            if (failed != generation || (status & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
                return;
            }
            status |= DeviceStatus.DEVICE_NEEDS_RESET;
            configGeneration++;
            interrupt.configurationChanged();
        }
        GuestLog.warn("virtio.needs-reset", name + " needs reset: " + reason);
    }

    /** The device's configuration changed on its own (e.g. a console resize): new generation, interrupt. */
    public synchronized void configurationChanged() {
        configGeneration++;
        interrupt.configurationChanged();
    }

    /**
     * The door back to the driver that one activation gives the device. Interrupts are sent under this
     * object's lock, so a reset (which holds it) and a late interrupt are ordered: after the reset none
     * from the old activation reaches the driver.
     */
    private final class Activation implements VirtioInterrupt, DeviceContext.DeviceFailure {
        private final int number;

        Activation(int number) {
            this.number = number;
        }

        @Override
        public void usedBuffers(int queueIndex) {
            synchronized (VirtioControl.this) {
                if (number == generation) {
                    interrupt.usedBuffers(queueIndex);
                }
            }
        }

        @Override
        public void configurationChanged() {
            synchronized (VirtioControl.this) {
                if (number == generation) {
                    VirtioControl.this.configurationChanged();
                }
            }
        }

        @Override
        public void failed(String reason) {
            fail(number, reason);
        }
    }

    private void activate() {
        List<Virtqueue> running = new ArrayList<>();
        try {
            for (QueueConfig config : queues) {
                if (config.ready && config.size > config.maxSize) {
                    throw new QueueException("queue size " + config.size + " is above the device's maximum " + config.maxSize);
                }
                running.add(config.ready
                        ? Virtqueue.create(dma, new Virtqueue.Layout(config.size, config.descriptorTable, config.driverArea,
                                config.deviceArea), driverFeatures)
                        : null);
            }
        } catch (QueueException e) {
            fail(e.getMessage());
            return;
        }
        active = true;
        Activation activation = new Activation(++generation);
        try {
            device.activate(new DeviceContext(driverFeatures, running, dma, activation, activation));
        } catch (RuntimeException e) {
            fail("internal error: " + e);
        }
    }

    private void reset() {
        generation++;
        if (active) {
            device.reset();
        }
        active = false;
        status = 0;
        driverFeatures = 0;
        configVector = NO_VECTOR;
        for (int i = 0; i < queues.size(); i++) {
            queues.set(i, new QueueConfig(device.maxQueueSize()));
        }
    }
}
