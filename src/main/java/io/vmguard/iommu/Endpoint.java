package io.vmguard.iommu;

/**
 * A device's ID on the IOMMU (its PCI BDF, as the VIOT names it), the domain it is attached to (null when
 * none) and its translation cache. Guarded by {@link IommuDomains}'s lock like the domains.
 */
final class Endpoint {
    private final int id;
    private final TranslationCache cache = new TranslationCache();
    private Domain domain;

    Endpoint(int id) {
        this.id = id;
    }

    int id() {
        return id;
    }

    Domain domain() {
        return domain;
    }

    /** Moves the endpoint; its cached translations belong to the old domain and are dropped. Under the write lock. */
    void domain(Domain domain) {
        this.domain = domain;
        cache.clear();
    }

    TranslationCache cache() {
        return cache;
    }
}
