package io.vmguard.virtio;

import io.vmguard.dma.DmaSpace;
import io.vmguard.events.GuestLog;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntPredicate;

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
 *
 * <p>Snapshots: {@link #saveState} writes the protocol state and, for a running device, where the device is
 * in each ring; {@link #restoreState} checks all of it and brings a device that was running back to life
 * with its queues where they were, without the driver doing anything. Both run with the device paused.
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
    /** The queues of the current activation (null for a disabled one), for snapshots; empty when not active. */
    private List<Virtqueue> running = List.of();
    private final LongAdder notifications = new LongAdder();
    private final LongAdder interrupts = new LongAdder();

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
        this.interrupt = new CountingInterrupt(interrupt);
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
        if (serve(index)) {
            notifications.increment();
        }
    }

    /** Lets the device serve queue {@code index} if it is running; returns whether it was asked to. */
    private boolean serve(int index) {
        int kicked;
        synchronized (this) {
            if (!running(index)) {
                return false;
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
        return true;
    }

    /** Whether the device is running and queue {@code index} is one it uses; under the lock. */
    private boolean running(int index) {
        return active && (status & DeviceStatus.DEVICE_NEEDS_RESET) == 0 && queue(index) != null && queues.get(index).ready;
    }

    /**
     * Pauses the device ({@link VirtioDevice#pause}): when this returns it touches no guest memory and
     * raises no interrupt until {@link #resume}. Takes no lock of this object's, so it cannot wait behind a
     * reset, nor a reset behind it.
     */
    public void pause() {
        device.pause();
    }

    /**
     * Lets the device run again and has it look at every queue it uses, as if the driver had kicked each:
     * a kick that came while it was paused, or that the snapshot could not hold, is served now. A kick
     * with nothing to do costs a look at the ring's index.
     */
    public void resume() {
        device.resume();
        for (int i = 0; i < queues.size(); i++) {
            serve(i);
        }
    }

    /** The device's counters with this transport's notifications and interrupts. */
    public DeviceCounters counters() {
        return device.counters().withTransport(notifications.sum(), interrupts.sum());
    }

    /** Counts what the transport raises for this device, on its way to the wire. */
    private final class CountingInterrupt implements VirtioInterrupt {
        private final VirtioInterrupt wire;

        CountingInterrupt(VirtioInterrupt wire) {
            this.wire = wire;
        }

        @Override
        public void usedBuffers(int queueIndex) {
            interrupts.increment();
            wire.usedBuffers(queueIndex);
        }

        @Override
        public void configurationChanged() {
            interrupts.increment();
            wire.configurationChanged();
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
        List<Virtqueue> created = new ArrayList<>();
        try {
            for (QueueConfig config : queues) {
                if (config.ready && config.size > config.maxSize) {
                    throw new QueueException("queue size " + config.size + " is above the device's maximum " + config.maxSize);
                }
                created.add(config.ready
                        ? Virtqueue.create(dma, new Virtqueue.Layout(config.size, config.descriptorTable, config.driverArea,
                                config.deviceArea), driverFeatures)
                        : null);
            }
        } catch (QueueException e) {
            fail(e.getMessage());
            return;
        }
        start(created);
    }

    /** Hands the device its queues through a new door; under the lock. */
    private void start(List<Virtqueue> queuesToRun) {
        active = true;
        running = Collections.unmodifiableList(new ArrayList<>(queuesToRun));
        Activation activation = new Activation(++generation);
        try {
            device.activate(new DeviceContext(driverFeatures, queuesToRun, dma, activation, activation));
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
        running = List.of();
        status = 0;
        driverFeatures = 0;
        configVector = NO_VECTOR;
        for (int i = 0; i < queues.size(); i++) {
            queues.set(i, new QueueConfig(device.maxQueueSize()));
        }
    }

    // ---- snapshots ----

    /**
     * Writes the protocol state: status, features, generation, vectors, every queue's settings and, for
     * the queues of a running device, where the device is in the rings; then the device's own state
     * ({@code device}). The device must be paused.
     */
    public synchronized void saveState(StateWriter out) {
        out.putInt("deviceType", device.type().id())
                .putLong("offeredFeatures", offeredFeatures)
                .putInt("status", status)
                .putLong("driverFeatures", driverFeatures)
                .putInt("configGeneration", configGeneration)
                .putInt("configVector", configVector)
                .putBoolean("active", active);
        for (int i = 0; i < queues.size(); i++) {
            QueueConfig queue = queues.get(i);
            StateWriter entry = out.append("queues")
                    .putInt("size", queue.size)
                    .putBoolean("ready", queue.ready)
                    .putLong("descriptorTable", queue.descriptorTable)
                    .putLong("driverArea", queue.driverArea)
                    .putLong("deviceArea", queue.deviceArea)
                    .putInt("vector", queue.vector);
            Virtqueue live = i < running.size() ? running.get(i) : null;
            if (live != null) {
                live.saveState(entry.child("position"));
            }
        }
        // Under this lock, then the device's: the lock rule's order.
        out.save("device", device);
    }

    /**
     * Takes back what {@link #saveState} wrote, into a freshly built transport. The device is paused first
     * and stays paused: the caller resumes it ({@link #resume}) when the vCPUs run again. Everything is checked before anything changes; a device that
     * was running is activated again with its queues at the saved addresses and positions.
     *
     * @param reach          the device's memory as seen without gates the guest controls (bus mastering):
     *                       where a running queue's rings must lie
     * @param vectorAccepted which MSI-X vector numbers the transport could have stored (besides NO_VECTOR)
     */
    public void restoreState(StateReader in, DmaSpace reach, IntPredicate vectorAccepted) throws SnapshotException {
        device.pause();
        Saved saved = readSaved(in, reach, vectorAccepted);
        synchronized (this) {
            reset();
            status = saved.status;
            driverFeatures = saved.driverFeatures;
            configGeneration = saved.configGeneration;
            configVector = saved.configVector;
            for (int i = 0; i < queues.size(); i++) {
                queues.set(i, saved.queues.get(i));
            }
            if (saved.live != null) {
                start(saved.live);
            } else {
                // A device that failed while running stays failed, as it was: only a reset revives it.
                active = saved.active;
            }
        }
        // The device's own state lands after its activation, which would otherwise overwrite it.
        in.restore("device", device);
    }

    /** What a snapshot holds, checked; {@code live} is the queues to run again, or null when the device was not running. */
    private record Saved(int status, long driverFeatures, int configGeneration, int configVector, boolean active,
                         List<QueueConfig> queues, List<Virtqueue> live) {}

    private Saved readSaved(StateReader in, DmaSpace reach, IntPredicate vectorAccepted) throws SnapshotException {
        int type = in.getInt("deviceType");
        if (type != device.type().id()) {
            throw invalid(in, "deviceType", "is " + type + ", but this device is a " + device.type() + " (" + device.type().id() + ")");
        }
        long offered = in.getLong("offeredFeatures");
        if (offered != offeredFeatures) {
            throw invalid(in, "offeredFeatures", "is 0x" + Long.toHexString(offered) + ", but the device offers 0x"
                    + Long.toHexString(offeredFeatures) + " now (was it configured differently?)");
        }
        int savedStatus = in.getInt("status", 0, 0xff);
        long features = in.getLong("driverFeatures");
        // Before FEATURES_OK the driver may write any bits; FEATURES_OK stuck only for an acceptable set.
        if ((savedStatus & DeviceStatus.FEATURES_OK) != 0
                && ((features & ~offeredFeatures) != 0 || !VirtioFeatures.has(features, VirtioFeatures.VERSION_1))) {
            throw invalid(in, "driverFeatures", "0x" + Long.toHexString(features) + " is not a subset of the offered 0x"
                    + Long.toHexString(offeredFeatures) + " with VERSION_1, yet FEATURES_OK is set");
        }
        int generationSeen = in.getInt("configGeneration");
        int vector = vector(in, "configVector", vectorAccepted);
        boolean wasActive = in.getBoolean("active");
        boolean driverOk = (savedStatus & DeviceStatus.DRIVER_OK) != 0;
        boolean needsReset = (savedStatus & DeviceStatus.DEVICE_NEEDS_RESET) != 0;
        if (wasActive != driverOk && (wasActive || !needsReset)) {
            // DRIVER_OK activates the device; only a failed activation leaves it inactive (with NEEDS_RESET).
            throw invalid(in, "active", "is " + wasActive + " with status 0x" + Integer.toHexString(savedStatus));
        }
        boolean live = wasActive && !needsReset;
        List<StateReader> entries = in.list("queues", queues.size());
        if (entries.size() != queues.size()) {
            throw invalid(in, "queues", "has " + entries.size() + " entries, but the device has " + queues.size() + " queues");
        }
        List<QueueConfig> configs = new ArrayList<>();
        List<Virtqueue> liveQueues = new ArrayList<>();
        for (StateReader entry : entries) {
            QueueConfig config = readQueue(entry, vectorAccepted);
            configs.add(config);
            liveQueues.add(live && config.ready ? liveQueue(entry, config, features, reach) : null);
        }
        return new Saved(savedStatus, features, generationSeen, vector, wasActive, configs, live ? liveQueues : null);
    }

    private QueueConfig readQueue(StateReader in, IntPredicate vectorAccepted) throws SnapshotException {
        QueueConfig config = new QueueConfig(device.maxQueueSize());
        // The registers take any value until the queue runs; a running queue's are checked in liveQueue.
        config.size = in.getInt("size");
        config.ready = in.getBoolean("ready");
        config.descriptorTable = in.getLong("descriptorTable");
        config.driverArea = in.getLong("driverArea");
        config.deviceArea = in.getLong("deviceArea");
        config.vector = vector(in, "vector", vectorAccepted);
        return config;
    }

    /** A running queue: sized and placed as activation demands, inside memory, at its saved position. */
    private Virtqueue liveQueue(StateReader in, QueueConfig config, long features, DmaSpace reach) throws SnapshotException {
        if (config.size <= 0 || config.size > config.maxSize || Integer.bitCount(config.size) != 1) {
            throw invalid(in, "size", "is " + config.size + ", not a power of two up to the device's maximum " + config.maxSize);
        }
        Virtqueue queue;
        try {
            queue = Virtqueue.create(dma, reach, new Virtqueue.Layout(config.size, config.descriptorTable, config.driverArea,
                    config.deviceArea), features);
        } catch (QueueException e) {
            throw new SnapshotException("snapshot queue " + in.path() + " cannot run: " + e.getMessage());
        }
        queue.restoreState(in.child("position"));
        return queue;
    }

    private static int vector(StateReader in, String key, IntPredicate accepted) throws SnapshotException {
        int vector = in.getInt(key, 0, 0xffff);
        if (vector != NO_VECTOR && !accepted.test(vector)) {
            throw invalid(in, key, "is " + vector + ", which names no MSI-X vector of this transport");
        }
        return vector;
    }

    private static SnapshotException invalid(StateReader in, String key, String problem) {
        return new SnapshotException("snapshot field " + (in.path().isEmpty() ? key : in.path() + "." + key) + " " + problem);
    }
}
