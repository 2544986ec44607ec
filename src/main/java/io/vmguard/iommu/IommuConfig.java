package io.vmguard.iommu;

/**
 * What the device tells the driver about its translation (the configuration space) and the bounds it
 * enforces beyond the spec's.
 *
 * @param inputStart         first IOVA the driver may map (input_range.start)
 * @param inputEnd           last IOVA the driver may map, inclusive (input_range.end, unsigned)
 * @param domainStart        first domain ID (domain_range.start, unsigned 32-bit)
 * @param domainEnd          last domain ID, inclusive (domain_range.end, unsigned 32-bit)
 * @param maxDomains         domains that may exist at once; ATTACH beyond gets S_NOMEM
 * @param maxMappingsPerDomain mappings one domain may hold; MAP beyond gets S_NOMEM
 */
public record IommuConfig(long inputStart, long inputEnd, int domainStart, int domainEnd, int maxDomains,
                          int maxMappingsPerDomain) {
    /** The translation granule: MAP addresses and sizes are multiples of 4 KiB, any larger size allowed. */
    public static final long GRANULE = 4096;
    /** page_size_mask: every power of two from the granule up. */
    public static final long PAGE_SIZE_MASK = ~(GRANULE - 1);
    /** The bounds Cloud Hypervisor chose, generous for Linux and small enough to keep a guest from exhausting the heap. */
    public static final int MAX_DOMAINS = 65_536;
    public static final int MAX_MAPPINGS_PER_DOMAIN = 1 << 20;
    /** The x86 MSI window: DMA there is an interrupt, never memory, so PROBE reports it reserved and MAP refuses it. */
    public static final long MSI_START = 0xfee0_0000L;
    public static final long MSI_END = 0xfeef_ffffL;

    /**
     * 48-bit IOVAs (covers the 32-bit DMA masks of older devices, which Linux serves below 4 GiB) and
     * 65,536 domain IDs from 0, the first ID Linux allocates.
     */
    public static final IommuConfig DEFAULT = new IommuConfig(0, (1L << 48) - 1, 0, 0xffff, MAX_DOMAINS, MAX_MAPPINGS_PER_DOMAIN);

    public IommuConfig {
        if (Long.compareUnsigned(inputStart, inputEnd) > 0 || (inputStart & (GRANULE - 1)) != 0 || ((inputEnd + 1) & (GRANULE - 1)) != 0) {
            throw new IllegalArgumentException("input range must be granule-aligned and not empty");
        }
        if (Integer.compareUnsigned(domainStart, domainEnd) > 0 || maxDomains <= 0 || maxMappingsPerDomain <= 0) {
            throw new IllegalArgumentException("domain range must not be empty and limits must be positive");
        }
    }

    public boolean inInputRange(long first, long last) {
        return Long.compareUnsigned(first, inputStart) >= 0 && Long.compareUnsigned(last, inputEnd) <= 0;
    }

    public boolean inDomainRange(int domain) {
        return Integer.compareUnsigned(domain, domainStart) >= 0 && Integer.compareUnsigned(domain, domainEnd) <= 0;
    }
}
