package io.vmguard.iommu;

/** virtio-iommu feature bits (virtio 1.2, 5.13.3). */
public final class IommuFeatures {
    /** input_range in the configuration says which IOVAs may be mapped. */
    public static final long INPUT_RANGE = 1L << 0;
    /** domain_range in the configuration says which domain IDs the driver may use. */
    public static final long DOMAIN_RANGE = 1L << 1;
    /** MAP and UNMAP requests (Linux refuses a device without it). */
    public static final long MAP_UNMAP = 1L << 2;
    /** Legacy global bypass; not offered (BYPASS_CONFIG replaces it). */
    public static final long BYPASS = 1L << 3;
    /** PROBE requests, answered with the reserved MSI region. */
    public static final long PROBE = 1L << 4;
    /** MAP may carry the MMIO flag. */
    public static final long MMIO = 1L << 5;
    /** The bypass byte in the configuration, and ATTACH with F_BYPASS (identity domains). */
    public static final long BYPASS_CONFIG = 1L << 6;

    /** What vmguard's device offers (the transport adds VERSION_1 and the ring features). */
    public static final long OFFERED = INPUT_RANGE | DOMAIN_RANGE | MAP_UNMAP | PROBE | MMIO | BYPASS_CONFIG;

    private IommuFeatures() {}
}
