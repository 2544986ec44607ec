package io.vmguard.virtio.pci;

import io.vmguard.pci.MsixCapability;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.VirtioInterrupt;
import java.util.function.IntSupplier;
import java.util.function.IntUnaryOperator;

/**
 * How a virtio-pci device interrupts (virtio 1.2, sections 4.1.4.5 and 4.1.5.3-4). With MSI-X enabled,
 * it signals the vector the driver assigned to the queue or to configuration changes, and nothing for
 * NO_VECTOR. With MSI-X disabled, it sets the ISR status bit and requests INTx; the guest's read of ISR
 * status clears the bits and withdraws the request (the PCI status register's interrupt bit is the OR of
 * the ISR bits, as the spec asks, because both follow the one request).
 */
final class PciInterrupt implements VirtioInterrupt {
    static final int ISR_QUEUE = 1;
    static final int ISR_CONFIG = 2;

    private final MsixCapability msix;
    private final PciConfigSpace config;
    private final IntUnaryOperator queueVector;
    private final IntSupplier configVector;
    private int isr;

    /**
     * @param queueVector  the vector the driver assigned to a queue
     * @param configVector the vector the driver assigned to configuration changes
     */
    PciInterrupt(MsixCapability msix, PciConfigSpace config, IntUnaryOperator queueVector, IntSupplier configVector) {
        this.msix = msix;
        this.config = config;
        this.queueVector = queueVector;
        this.configVector = configVector;
    }

    @Override
    public void usedBuffers(int queueIndex) {
        deliver(ISR_QUEUE, () -> queueVector.applyAsInt(queueIndex));
    }

    @Override
    public void configurationChanged() {
        deliver(ISR_CONFIG, configVector);
    }

    private void deliver(int isrBit, IntSupplier vector) {
        if (msix.enabled()) {
            int number = vector.getAsInt();
            if (number != VirtioControl.NO_VECTOR) {
                msix.signal(number); // masked: pending until unmasked; a number past the table: ignored
            }
            return;
        }
        synchronized (this) {
            isr |= isrBit;
            config.setInterrupt(true);
        }
    }

    /** The driver reads ISR status: the bits, cleared by this read, and the INTx request with them. */
    synchronized int readAndClear() {
        int bits = isr;
        isr = 0;
        config.setInterrupt(false);
        return bits;
    }

    /** The ISR bits not yet read, for snapshots. */
    synchronized int isr() {
        return isr;
    }

    /** Restores the ISR bits; the INTx request is the config space's, restored with it. */
    synchronized void restoreIsr(int bits) {
        isr = bits;
    }

    /** A device reset: nothing is pending any more. */
    synchronized void reset() {
        isr = 0;
        config.setInterrupt(false);
    }
}
