package io.vmguard.iommu;

import io.vmguard.dma.DmaFault;

/** Which way a device access moves data, seen from the device: it reads guest memory or writes it. */
public enum Access {
    READ, WRITE;

    public DmaFault.Access dma() {
        return this == READ ? DmaFault.Access.READ : DmaFault.Access.WRITE;
    }
}
