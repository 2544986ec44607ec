package io.vmguard.virtio.mmio;

import io.vmguard.bus.BusDevice;
import io.vmguard.bus.InterruptLine;
import io.vmguard.dma.DmaSpace;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.VirtioInterrupt;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The virtio-mmio transport, version 2 (virtio 1.2, section 4.2.2): one 4 KiB register window per device
 * and one level-triggered interrupt line, raised while InterruptStatus is non-zero.
 *
 * <p>Registers are 32-bit; other widths are honoured only in the device configuration area, as the spec
 * requires, and anything else reads as zero and is ignored on write.
 *
 * <p>Snapshots hold the selectors, InterruptStatus (the line follows it on restore), the control's state
 * and the device's.
 */
public final class VirtioMmioTransport implements BusDevice, Snapshottable {
    public static final long WINDOW_SIZE = 0x1000;

    private static final int MAGIC = 0x74726976; // "virt"
    private static final int VERSION = 2;
    /** "VMGD" as a little-endian word; drivers do not look at it. */
    private static final int VENDOR_ID = 0x44474d56;

    private static final int MAGIC_VALUE = 0x000;
    private static final int VERSION_REG = 0x004;
    private static final int DEVICE_ID = 0x008;
    private static final int VENDOR_ID_REG = 0x00c;
    private static final int DEVICE_FEATURES = 0x010;
    private static final int DEVICE_FEATURES_SEL = 0x014;
    private static final int DRIVER_FEATURES = 0x020;
    private static final int DRIVER_FEATURES_SEL = 0x024;
    private static final int QUEUE_SEL = 0x030;
    private static final int QUEUE_NUM_MAX = 0x034;
    private static final int QUEUE_NUM = 0x038;
    private static final int QUEUE_READY = 0x044;
    private static final int QUEUE_NOTIFY = 0x050;
    private static final int INTERRUPT_STATUS = 0x060;
    private static final int INTERRUPT_ACK = 0x064;
    private static final int STATUS = 0x070;
    private static final int QUEUE_DESC_LOW = 0x080;
    private static final int QUEUE_DEVICE_HIGH = 0x0a4;
    private static final int SHM_SEL = 0x0ac;
    private static final int SHM_LEN_LOW = 0x0b0;
    private static final int SHM_LEN_HIGH = 0x0b4;
    private static final int CONFIG_GENERATION = 0x0fc;
    private static final int CONFIG = 0x100;

    private static final int INTERRUPT_USED_BUFFER = 1;
    private static final int INTERRUPT_CONFIG_CHANGE = 2;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final VirtioControl control;
    private final DmaSpace dma;
    private final InterruptLine line;
    private int deviceFeaturesSelect;
    private int driverFeaturesSelect;
    private int queueSelect;
    /**
     * InterruptStatus has a lock of its own: interrupts come from device threads through the control's
     * lock, while a register write holds this object's lock and then takes the control's (to reset the
     * device): sharing one lock would order the two the other way round.
     */
    private final Object interruptLock = new Object();
    private int interruptStatus;

    public VirtioMmioTransport(VirtioDevice device, String name, DmaSpace dma, InterruptLine line) {
        this(device, name, dma, line, 0);
    }

    /** As above, offering {@code extraFeatures} too (ACCESS_PLATFORM when an IOMMU translates {@code dma}). */
    public VirtioMmioTransport(VirtioDevice device, String name, DmaSpace dma, InterruptLine line, long extraFeatures) {
        this.line = line;
        this.dma = dma;
        this.control = new VirtioControl(device, name, dma, new LineInterrupt(), extraFeatures);
    }

    public VirtioControl control() {
        return control;
    }

    private final class LineInterrupt implements VirtioInterrupt {
        @Override
        public void usedBuffers(int queueIndex) {
            raise(INTERRUPT_USED_BUFFER);
        }

        @Override
        public void configurationChanged() {
            raise(INTERRUPT_CONFIG_CHANGE);
        }
    }

    /** The line follows InterruptStatus under the lock, so a raise racing an acknowledge is never lost. */
    private void raise(int bits) {
        synchronized (interruptLock) {
            interruptStatus |= bits;
            line.set(true);
        }
    }

    private int interruptStatus() {
        synchronized (interruptLock) {
            return interruptStatus;
        }
    }

    /** Clears {@code bits} of InterruptStatus, and the line with the last of them. */
    private void acknowledge(int bits) {
        synchronized (interruptLock) {
            interruptStatus &= ~bits;
            if (interruptStatus == 0) {
                line.set(false);
            }
        }
    }

    @Override
    public void read(long offset, MemorySegment data) {
        if (offset >= CONFIG) {
            control.device().readConfig(offset - CONFIG, data);
            return;
        }
        data.fill((byte) 0);
        if (data.byteSize() != 4 || (offset & 3) != 0) {
            return;
        }
        data.set(INT, 0, register((int) offset));
    }

    private synchronized int register(int offset) {
        return switch (offset) {
            case MAGIC_VALUE -> MAGIC;
            case VERSION_REG -> VERSION;
            case DEVICE_ID -> control.device().type().id();
            case VENDOR_ID_REG -> VENDOR_ID;
            case DEVICE_FEATURES -> control.offeredFeatureWord(deviceFeaturesSelect);
            case QUEUE_NUM_MAX -> {
                VirtioControl.QueueConfig queue = control.queue(queueSelect);
                yield queue == null ? 0 : queue.maxSize();
            }
            case QUEUE_READY -> {
                VirtioControl.QueueConfig queue = control.queue(queueSelect);
                yield queue != null && queue.ready() ? 1 : 0;
            }
            case INTERRUPT_STATUS -> interruptStatus();
            case STATUS -> control.status();
            // No shared memory regions: a length of all ones says "this region does not exist".
            case SHM_LEN_LOW, SHM_LEN_HIGH -> -1;
            case CONFIG_GENERATION -> control.configGeneration();
            default -> 0;
        };
    }

    @Override
    public void write(long offset, MemorySegment data) {
        if (offset >= CONFIG) {
            control.device().writeConfig(offset - CONFIG, data);
            return;
        }
        if (data.byteSize() != 4 || (offset & 3) != 0) {
            return;
        }
        int value = data.get(INT, 0);
        int register = (int) offset;
        if (register == QUEUE_NOTIFY) {
            // Outside the lock: the device may take a while, and its threads may raise interrupts meanwhile.
            control.notifyQueue(value & 0xffff);
            return;
        }
        synchronized (this) {
            switch (register) {
                case DEVICE_FEATURES_SEL -> deviceFeaturesSelect = value;
                case DRIVER_FEATURES_SEL -> driverFeaturesSelect = value;
                case DRIVER_FEATURES -> control.writeDriverFeatureWord(driverFeaturesSelect, value);
                case QUEUE_SEL -> queueSelect = value;
                case QUEUE_NUM -> control.setQueueSize(queueSelect, value);
                case QUEUE_READY -> control.setQueueReady(queueSelect, (value & 1) != 0);
                case INTERRUPT_ACK -> acknowledge(value);
                case STATUS -> {
                    control.writeStatus(value);
                    if (value == 0) {
                        acknowledge(-1);
                    }
                }
                case SHM_SEL -> { }
                default -> {
                    if (register >= QUEUE_DESC_LOW && register <= QUEUE_DEVICE_HIGH && (register & 0xf) <= 4) {
                        int part = (register - QUEUE_DESC_LOW) / 0x10 * 2 + (register & 0xf) / 4;
                        control.setQueueAddressPart(queueSelect, part, value);
                    }
                }
            }
        }
    }

    /** Call with the device paused ({@link VirtioControl#pause}). */
    @Override
    public void saveState(StateWriter out) {
        synchronized (this) {
            out.putInt("deviceFeaturesSelect", deviceFeaturesSelect)
                    .putInt("driverFeaturesSelect", driverFeaturesSelect)
                    .putInt("queueSelect", queueSelect);
        }
        out.putInt("interruptStatus", interruptStatus());
        control.saveState(out.child("control"));
    }

    /** Into a freshly built transport; leaves the device paused ({@link VirtioControl#resume} starts it). */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        // The selectors hold any 32-bit value the driver wrote.
        int deviceSelect = in.getInt("deviceFeaturesSelect");
        int driverSelect = in.getInt("driverFeaturesSelect");
        int queue = in.getInt("queueSelect");
        int status = in.getInt("interruptStatus", 0, INTERRUPT_USED_BUFFER | INTERRUPT_CONFIG_CHANGE);
        // virtio-mmio has no MSI-X: every vector must be NO_VECTOR.
        control.restoreState(in.child("control"), dma, vector -> false);
        synchronized (this) {
            deviceFeaturesSelect = deviceSelect;
            driverFeaturesSelect = driverSelect;
            queueSelect = queue;
        }
        synchronized (interruptLock) {
            interruptStatus = status;
            line.set(status != 0);
        }
    }
}
