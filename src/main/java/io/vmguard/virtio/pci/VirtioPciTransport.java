package io.vmguard.virtio.pci;

import io.vmguard.bus.MsiSink;
import io.vmguard.dma.DmaSpace;
import io.vmguard.pci.InterruptPin;
import io.vmguard.pci.MsixCapability;
import io.vmguard.pci.PciBar;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciDevice;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The virtio-pci modern transport (virtio 1.2, section 4.1): a non-transitional PCI function whose one
 * memory BAR holds the common configuration, notification, ISR status and device configuration structures
 * and the MSI-X table and PBA ({@link BarLayout}), found by the driver through vendor-specific
 * capabilities, plus the configuration-space access window ({@link PciConfigWindow}).
 *
 * <p>IDs: vendor 0x1af4, device 0x1040 + the virtio device ID (the range Linux's virtio_pci claims as
 * modern), revision 1 and subsystem 0x1af4 with the device ID again, as the spec's non-transitional
 * device SHOULDs ask (subsystem ID 0x40 or more; legacy drivers bind to none of it).
 *
 * <p>All protocol state (status, features, queues, vectors) is {@link VirtioControl}'s; this class maps
 * registers onto it and chooses the interrupt wire: MSI-X with one vector per queue plus one for
 * configuration changes, else INTA with ISR status. The device reaches memory only while the guest lets
 * the function master the bus ({@link BusMasterDma}).
 *
 * <p>Snapshots: this transport saves the virtio state (the control's, the selectors, ISR status) and the
 * device's own; the function's configuration space, MSI-X table included, is the root complex's to save
 * and must be restored first ({@link io.vmguard.pci.PciRoot#restoreState}).
 */
public final class VirtioPciTransport implements PciDevice, Snapshottable {
    public static final int VENDOR_ID = 0x1af4;
    public static final int DEVICE_ID_BASE = 0x1040;
    /** Non-transitional devices have revision 1 or higher, so legacy-only drivers leave them alone. */
    public static final int REVISION = 1;

    private final VirtioControl control;
    private final PciConfigSpace config;
    private final MsixCapability msix;
    private final PciInterrupt interrupt;
    private final CommonConfig common;
    private final int queues;
    /** The device's memory without the bus-master gate: where a restored running queue must lie. */
    private final DmaSpace reach;

    /**
     * @param name how the device is named in messages (e.g. "virtio-blk 0")
     * @param dma  the device's door to guest memory (the transport shuts it while bus mastering is off)
     * @param msi  where MSI-X messages go (the root complex's sink)
     */
    public VirtioPciTransport(VirtioDevice device, String name, DmaSpace dma, MsiSink msi) {
        this(device, name, dma, msi, 0);
    }

    /**
     * As above, offering {@code extraFeatures} too (ACCESS_PLATFORM when an IOMMU translates {@code dma}: the
     * driver must then hand the device bus addresses from the DMA API, not guest-physical ones).
     */
    public VirtioPciTransport(VirtioDevice device, String name, DmaSpace dma, MsiSink msi, long extraFeatures) {
        queues = device.queueCount();
        reach = dma;
        if (queues > BarLayout.MAX_QUEUES) {
            throw new IllegalArgumentException(name + " has " + queues + " queues; virtio-pci takes at most " + BarLayout.MAX_QUEUES);
        }
        int id = device.type().id();
        PciClassCode classCode = PciClassCode.of(device.type());
        msix = new MsixCapability(queues + 1, BarLayout.BAR, BarLayout.MSIX_TABLE, BarLayout.BAR, BarLayout.MSIX_PBA, msi);
        config = PciConfigSpace.builder(VENDOR_ID, DEVICE_ID_BASE + id)
                .revision(REVISION)
                .subsystem(VENDOR_ID, DEVICE_ID_BASE + id)
                .classCode(classCode.baseClass(), classCode.subClass(), classCode.progIf())
                .bar(BarLayout.BAR, PciBar.memory32(BarLayout.BAR_SIZE))
                .interruptPin(InterruptPin.INTA)
                .capability(msix)
                .capability(VirtioCapabilities.structure(VirtioCapabilities.COMMON_CFG, BarLayout.BAR, BarLayout.COMMON, CommonConfig.LENGTH))
                .capability(VirtioCapabilities.notify(BarLayout.BAR, BarLayout.NOTIFY, BarLayout.notifyLength(queues),
                        BarLayout.NOTIFY_OFF_MULTIPLIER))
                .capability(VirtioCapabilities.structure(VirtioCapabilities.ISR_CFG, BarLayout.BAR, BarLayout.ISR, BarLayout.ISR_LENGTH))
                .capability(VirtioCapabilities.structure(VirtioCapabilities.DEVICE_CFG, BarLayout.BAR, BarLayout.DEVICE_CONFIG,
                        BarLayout.DEVICE_CONFIG_LENGTH))
                .capability(new PciConfigWindow(BarLayout.BAR, BarLayout.BAR_SIZE, this)) // used only once built
                .build();
        // Asked when an interrupt comes, by which time the control exists.
        interrupt = new PciInterrupt(msix, config, this::queueVector, this::configVector);
        control = new VirtioControl(device, name, new BusMasterDma(dma, config::busMasterEnabled), interrupt, extraFeatures);
        common = new CommonConfig(control, msix.vectors(), interrupt::reset);
    }

    private int queueVector(int queueIndex) {
        return control.queueVector(queueIndex);
    }

    private int configVector() {
        return control.configVector();
    }

    public VirtioControl control() {
        return control;
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public void readBar(int bar, long offset, MemorySegment data) {
        if (bar != BarLayout.BAR) {
            data.fill((byte) 0);
            return;
        }
        if (msix.readBar(bar, offset, data)) {
            return;
        }
        int size = (int) data.byteSize();
        switch (BarRegion.at(offset, size, queues)) {
            case BarRegion.Common(long at) -> store(data, common.read(at, size));
            case BarRegion.Isr _ -> store(data, interrupt.readAndClear());
            case BarRegion.DeviceConfig(long at) -> control.device().readConfig(at, data);
            case BarRegion.Notify _, BarRegion.Unmapped _ -> data.fill((byte) 0); // notifications are write-only
        }
    }

    @Override
    public void writeBar(int bar, long offset, MemorySegment data) {
        if (bar != BarLayout.BAR || msix.writeBar(bar, offset, data)) {
            return;
        }
        int size = (int) data.byteSize();
        switch (BarRegion.at(offset, size, queues)) {
            case BarRegion.Common(long at) -> common.write(at, size, (int) load(data));
            case BarRegion.DeviceConfig(long at) -> control.device().writeConfig(at, data);
            case BarRegion.Notify(long at) -> notify(at, size);
            case BarRegion.Isr _, BarRegion.Unmapped _ -> { } // ISR status is read-only
        }
    }

    /**
     * A kick: the address names the queue (queue_notify_off = index). The value is the queue index (16
     * bits; 32 with NOTIFICATION_DATA, which is not offered), so it adds nothing and is not checked.
     *
     * <p>While bus mastering is off the kick is ignored: serving it would mean reading the rings, and a
     * function must not touch memory then. Nothing is lost: every kick makes the device take all
     * available buffers, so the driver's next kick, once bus mastering is on, serves these too.
     */
    private void notify(long offset, int size) {
        if ((size != 2 && size != 4) || offset % BarLayout.NOTIFY_OFF_MULTIPLIER != 0 || !config.busMasterEnabled()) {
            return;
        }
        control.notifyQueue((int) (offset / BarLayout.NOTIFY_OFF_MULTIPLIER));
    }

    /** Call with the device paused ({@link VirtioControl#pause}). */
    @Override
    public void saveState(StateWriter out) {
        common.saveState(out.child("common"));
        out.putInt("isr", interrupt.isr());
        control.saveState(out.child("control"));
    }

    /**
     * Into a freshly built transport whose configuration space is already restored. Leaves the device
     * paused; {@link VirtioControl#resume} starts it.
     */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        CommonConfig.Selectors selectors = CommonConfig.Selectors.read(in.child("common"));
        int isr = in.getInt("isr", 0, PciInterrupt.ISR_QUEUE | PciInterrupt.ISR_CONFIG);
        control.restoreState(in.child("control"), reach, vector -> vector < msix.vectors());
        common.restore(selectors);
        interrupt.restoreIsr(isr);
    }

    private static long load(MemorySegment data) {
        long value = 0;
        for (int i = (int) data.byteSize() - 1; i >= 0; i--) {
            value = value << 8 | Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
        }
        return value;
    }

    private static void store(MemorySegment data, long value) {
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
    }

    @Override
    public String toString() {
        return "virtio-pci " + control.name();
    }
}
