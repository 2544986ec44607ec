/**
 * The paravirtual IOMMU (virtio-iommu, virtio 1.2 section 5.13): the guest's translation state
 * ({@link io.vmguard.iommu.IommuDomains}), the requests that change it ({@link io.vmguard.iommu.RequestCodec},
 * {@link io.vmguard.iommu.IommuRequest}), the door through which each endpoint's DMA is translated and checked
 * ({@link io.vmguard.iommu.IommuDmaSpace}), and the virtio device the guest drives
 * ({@link io.vmguard.iommu.VirtioIommu}).
 *
 * <p>Bus addresses (IOVAs) are unsigned 64-bit values: every comparison and sum here is unsigned and
 * checked for wrap-around, since a guest may send any value up to 2^64 - 1.
 */
package io.vmguard.iommu;
