package io.vmguard.virtio.pci;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.VirtioControl;

/**
 * The common configuration structure (virtio 1.2, section 4.1.4.3, struct virtio_pci_common_cfg) as a
 * register map over {@link VirtioControl}, which holds all protocol state; this class adds only the
 * selectors (feature words, queue) and the check of MSI-X vector numbers against the table.
 *
 * <p>The spec has the driver use each field's natural width (64-bit queue addresses as two 32-bit
 * halves). An access of any other width, or at an offset where no field starts, reads 0 and is ignored on
 * write. queue_notify_data and queue_reset read 0: their features (NOTIF_CONFIG_DATA, RING_RESET) are not
 * offered.
 */
final class CommonConfig {
    static final int DEVICE_FEATURE_SELECT = 0x00;
    static final int DEVICE_FEATURE = 0x04;
    static final int DRIVER_FEATURE_SELECT = 0x08;
    static final int DRIVER_FEATURE = 0x0c;
    static final int MSIX_CONFIG = 0x10;
    static final int NUM_QUEUES = 0x12;
    static final int DEVICE_STATUS = 0x14;
    static final int CONFIG_GENERATION = 0x15;
    static final int QUEUE_SELECT = 0x16;
    static final int QUEUE_SIZE = 0x18;
    static final int QUEUE_MSIX_VECTOR = 0x1a;
    static final int QUEUE_ENABLE = 0x1c;
    static final int QUEUE_NOTIFY_OFF = 0x1e;
    static final int QUEUE_DESC_LO = 0x20;
    static final int QUEUE_DESC_HI = 0x24;
    static final int QUEUE_DRIVER_LO = 0x28;
    static final int QUEUE_DRIVER_HI = 0x2c;
    static final int QUEUE_DEVICE_LO = 0x30;
    static final int QUEUE_DEVICE_HI = 0x34;
    static final int QUEUE_NOTIFY_DATA = 0x38;
    static final int QUEUE_RESET = 0x3a;
    static final int LENGTH = 0x3c;

    private final VirtioControl control;
    private final int msixVectors;
    private final Runnable onReset;
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private int queueSelect;

    /**
     * @param msixVectors the MSI-X table size: vector numbers from 0 to this (exclusive) are accepted
     * @param onReset     what else the transport clears when the driver resets the device (ISR status)
     */
    CommonConfig(VirtioControl control, int msixVectors, Runnable onReset) {
        this.control = control;
        this.msixVectors = msixVectors;
        this.onReset = onReset;
    }

    /** The width of the field starting at {@code offset}, or 0 where none starts. */
    private static int fieldWidth(int offset) {
        return switch (offset) {
            case DEVICE_FEATURE_SELECT, DEVICE_FEATURE, DRIVER_FEATURE_SELECT, DRIVER_FEATURE, QUEUE_DESC_LO, QUEUE_DESC_HI,
                 QUEUE_DRIVER_LO, QUEUE_DRIVER_HI, QUEUE_DEVICE_LO, QUEUE_DEVICE_HI -> 4;
            case MSIX_CONFIG, NUM_QUEUES, QUEUE_SELECT, QUEUE_SIZE, QUEUE_MSIX_VECTOR, QUEUE_ENABLE, QUEUE_NOTIFY_OFF,
                 QUEUE_NOTIFY_DATA, QUEUE_RESET -> 2;
            case DEVICE_STATUS, CONFIG_GENERATION -> 1;
            default -> 0;
        };
    }

    /** A read of {@code size} bytes at {@code offset} in the structure. */
    synchronized int read(long offset, int size) {
        if (offset < 0 || offset >= LENGTH || fieldWidth((int) offset) != size) {
            return 0;
        }
        VirtioControl.QueueConfig queue = control.queue(queueSelect);
        return switch ((int) offset) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
            case DEVICE_FEATURE -> control.offeredFeatureWord(deviceFeatureSelect);
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect;
            case DRIVER_FEATURE -> control.driverFeatureWord(driverFeatureSelect);
            case MSIX_CONFIG -> control.configVector();
            case NUM_QUEUES -> control.queueCount();
            case DEVICE_STATUS -> control.status() & 0xff;
            case CONFIG_GENERATION -> control.configGeneration() & 0xff;
            case QUEUE_SELECT -> queueSelect;
            // A size of 0 tells the driver the selected queue does not exist.
            case QUEUE_SIZE -> queue == null ? 0 : queue.size();
            case QUEUE_MSIX_VECTOR -> control.queueVector(queueSelect);
            case QUEUE_ENABLE -> queue != null && queue.ready() ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> queue == null ? 0 : queueSelect;
            case QUEUE_DESC_LO -> queue == null ? 0 : (int) queue.descriptorTable();
            case QUEUE_DESC_HI -> queue == null ? 0 : (int) (queue.descriptorTable() >>> 32);
            case QUEUE_DRIVER_LO -> queue == null ? 0 : (int) queue.driverArea();
            case QUEUE_DRIVER_HI -> queue == null ? 0 : (int) (queue.driverArea() >>> 32);
            case QUEUE_DEVICE_LO -> queue == null ? 0 : (int) queue.deviceArea();
            case QUEUE_DEVICE_HI -> queue == null ? 0 : (int) (queue.deviceArea() >>> 32);
            default -> 0;
        };
    }

    /** A write of the low {@code size} bytes of {@code value} at {@code offset}. */
    synchronized void write(long offset, int size, int value) {
        if (offset < 0 || offset >= LENGTH || fieldWidth((int) offset) != size) {
            return;
        }
        switch ((int) offset) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = value;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect = value;
            case DRIVER_FEATURE -> control.writeDriverFeatureWord(driverFeatureSelect, value);
            case MSIX_CONFIG -> control.setConfigVector(acceptedVector(value));
            case DEVICE_STATUS -> writeStatus(value & 0xff);
            case QUEUE_SELECT -> queueSelect = value & 0xffff;
            case QUEUE_SIZE -> control.setQueueSize(queueSelect, value & 0xffff);
            case QUEUE_MSIX_VECTOR -> control.setQueueVector(queueSelect, acceptedVector(value));
            case QUEUE_ENABLE -> control.setQueueReady(queueSelect, (value & 1) != 0);
            case QUEUE_DESC_LO -> control.setQueueAddressPart(queueSelect, 0, value);
            case QUEUE_DESC_HI -> control.setQueueAddressPart(queueSelect, 1, value);
            case QUEUE_DRIVER_LO -> control.setQueueAddressPart(queueSelect, 2, value);
            case QUEUE_DRIVER_HI -> control.setQueueAddressPart(queueSelect, 3, value);
            case QUEUE_DEVICE_LO -> control.setQueueAddressPart(queueSelect, 4, value);
            case QUEUE_DEVICE_HI -> control.setQueueAddressPart(queueSelect, 5, value);
            default -> { } // read-only fields, and the two whose features are not offered
        }
    }

    /** The selectors; the rest of the structure is the control's. */
    synchronized void saveState(StateWriter out) {
        out.putInt("deviceFeatureSelect", deviceFeatureSelect)
                .putInt("driverFeatureSelect", driverFeatureSelect)
                .putInt("queueSelect", queueSelect);
    }

    /** The selectors as read and checked from a snapshot, to be applied once the rest has been. */
    record Selectors(int deviceFeatureSelect, int driverFeatureSelect, int queueSelect) {
        /** The feature selectors hold any 32-bit value the driver wrote; the queue selector 16 bits. */
        static Selectors read(StateReader in) throws SnapshotException {
            return new Selectors(in.getInt("deviceFeatureSelect"), in.getInt("driverFeatureSelect"), in.getInt("queueSelect", 0, 0xffff));
        }
    }

    synchronized void restore(Selectors selectors) {
        deviceFeatureSelect = selectors.deviceFeatureSelect();
        driverFeatureSelect = selectors.driverFeatureSelect();
        queueSelect = selectors.queueSelect();
    }

    /**
     * A vector the driver asks for: kept when it names an entry of the MSI-X table, else NO_VECTOR. The
     * driver reads the field back and learns from NO_VECTOR that the mapping failed (Linux then falls back
     * to fewer vectors).
     */
    private int acceptedVector(int value) {
        int vector = value & 0xffff;
        return vector < msixVectors ? vector : VirtioControl.NO_VECTOR;
    }

    private void writeStatus(int value) {
        control.writeStatus(value);
        if (value == 0) {
            // Back to the state after power-on, selectors included, so a re-probe starts clean.
            deviceFeatureSelect = 0;
            driverFeatureSelect = 0;
            queueSelect = 0;
            onReset.run();
        }
    }
}
