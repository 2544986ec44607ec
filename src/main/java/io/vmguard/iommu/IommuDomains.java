package io.vmguard.iommu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The IOMMU's translation state: the endpoints the VMM put behind it, the domains the driver created and
 * their mappings, and the bypass switch; the four state-changing requests exactly as virtio 1.2 section
 * 5.13.6 and the research matrix (docs: ../shared/research/iommu.md, section 4) ask; and translation.
 *
 * <p><b>Synchronisation.</b> One read-write lock covers all of it. Requests (from the vCPU thread, in the
 * device's notification) take the write lock; each device access takes the read lock for its translation
 * <em>and</em> its copy ({@link IommuDmaSpace}). So a request that removes a translation (UNMAP, DETACH, an
 * ATTACH that moves the endpoint, a reset) waits for every access under way to finish, clears the caches of
 * the endpoints concerned, and returns; no access can use the old translation after that (matrix rows 18
 * and 50). Accesses from several device threads still run side by side. The lock is a leaf: nothing else
 * is locked while it is held, and faults are reported only after it is released.
 *
 * <p>Bypass is off unless the driver negotiated BYPASS_CONFIG and set the configuration's bypass byte: an
 * endpoint that was never attached gets no DMA at all.
 */
public final class IommuDomains {
    private final IommuConfig config;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Map<Integer, Endpoint> endpoints = new HashMap<>();
    private final Map<Integer, Domain> domains = new HashMap<>();
    private boolean bypassConfig;
    private boolean mmio;
    private boolean bypass;

    public IommuDomains(IommuConfig config) {
        this.config = config;
    }

    public IommuConfig config() {
        return config;
    }

    /** The lock every access holds while it translates and copies. */
    Lock readLock() {
        return lock.readLock();
    }

    // ---- set-up by the VMM and the device ----

    /** Puts endpoint {@code id} (a PCI BDF) behind the IOMMU; ATTACH and PROBE know only these. Idempotent. */
    public void addEndpoint(int id) {
        write(() -> endpoints.computeIfAbsent(id, Endpoint::new));
    }

    /** The endpoint, or null when the VMM never added it. Under either lock. */
    Endpoint endpoint(int id) {
        return endpoints.get(id);
    }

    /** The features the driver accepted (at activation); BYPASS_CONFIG and MMIO change what requests may do. */
    public void negotiated(long features) {
        write(() -> {
            bypassConfig = (features & IommuFeatures.BYPASS_CONFIG) != 0;
            mmio = (features & IommuFeatures.MMIO) != 0;
        });
    }

    /** The configuration's bypass byte (0 or 1). */
    public boolean bypass() {
        lock.readLock().lock();
        try {
            return bypass;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** The driver writes the bypass byte; unattached endpoints reach memory untranslated only while it is 1 and BYPASS_CONFIG was agreed. */
    public void bypass(boolean on) {
        write(() -> {
            bypass = on;
            endpoints.values().forEach(endpoint -> endpoint.cache().clear());
        });
    }

    /**
     * A device reset: every domain and attachment is gone, bypass is back to 0 and nothing is negotiated; the
     * endpoints stay (they are the machine's).
     */
    public void reset() {
        write(() -> {
            clearDomains();
            bypass = false;
            bypassConfig = false;
            mmio = false;
        });
    }

    private void clearDomains() {
        domains.clear();
        endpoints.values().forEach(endpoint -> endpoint.domain(null));
    }

    // ---- requests ----

    /** Carries out an ATTACH, DETACH, MAP or UNMAP (PROBE only checks the endpoint); the status for the tail. */
    public Status execute(IommuRequest request) {
        lock.writeLock().lock();
        try {
            return switch (request) {
                case IommuRequest.Attach attach -> attach(attach);
                case IommuRequest.Detach detach -> detach(detach);
                case IommuRequest.Map map -> map(map);
                case IommuRequest.Unmap unmap -> unmap(unmap);
                case IommuRequest.Probe probe -> endpoints.containsKey(probe.endpoint()) ? Status.OK : Status.NOENT;
            };
        } finally {
            lock.writeLock().unlock();
        }
    }

    private Status attach(IommuRequest.Attach request) {
        boolean identity = (request.flags() & IommuRequest.F_BYPASS) != 0;
        if (request.reservedSet() || (request.flags() & ~IommuRequest.F_BYPASS) != 0 || (identity && !bypassConfig)) {
            return Status.INVAL;
        }
        Endpoint endpoint = endpoints.get(request.endpoint());
        if (endpoint == null) {
            return Status.NOENT;
        }
        if (!config.inDomainRange(request.domain())) {
            return Status.RANGE;
        }
        Domain domain = domains.get(request.domain());
        if (domain != null && domain.bypass() != identity) {
            return Status.INVAL;
        }
        if (domain != null && endpoint.domain() == domain) {
            return Status.OK; // already there: nothing changes
        }
        if (domain == null) {
            if (domains.size() >= config.maxDomains() && !wouldEmpty(endpoint.domain(), endpoint)) {
                return Status.NOMEM;
            }
            domain = new Domain(request.domain(), identity);
        }
        // An endpoint in another domain leaves it first (an implicit DETACH, virtio 1.2 5.13.6.3).
        leave(endpoint);
        domains.put(domain.id(), domain);
        domain.endpoints().add(endpoint);
        endpoint.domain(domain);
        return Status.OK;
    }

    /** Whether {@code endpoint} is the only one in {@code domain}, so its leaving frees a slot. */
    private static boolean wouldEmpty(Domain domain, Endpoint endpoint) {
        return domain != null && domain.endpoints().size() == 1 && domain.endpoints().contains(endpoint);
    }

    private Status detach(IommuRequest.Detach request) {
        if (request.reservedSet()) {
            return Status.INVAL;
        }
        Endpoint endpoint = endpoints.get(request.endpoint());
        if (endpoint == null) {
            return Status.NOENT;
        }
        if (endpoint.domain() == null || endpoint.domain().id() != request.domain()) {
            return Status.INVAL;
        }
        leave(endpoint);
        return Status.OK;
    }

    /**
     * Takes the endpoint out of its domain, dropping the domain with its mappings when it was the last one
     * there (Linux replays a domain's mappings when it gets an endpoint again).
     */
    private void leave(Endpoint endpoint) {
        Domain old = endpoint.domain();
        if (old == null) {
            return;
        }
        old.endpoints().remove(endpoint);
        if (old.endpoints().isEmpty()) {
            domains.remove(old.id());
        }
        endpoint.domain(null);
    }

    private Status map(IommuRequest.Map request) {
        Domain domain = domains.get(request.domain());
        if (domain == null) {
            return Status.NOENT;
        }
        int flags = request.flags();
        if ((flags & ~Mapping.KNOWN_FLAGS) != 0 || ((flags & Mapping.MMIO) != 0 && !mmio) || domain.bypass()) {
            return Status.INVAL;
        }
        long first = request.virtStart();
        long last = request.virtEnd();
        long granule = IommuConfig.GRANULE - 1;
        if (Long.compareUnsigned(last, first) < 0 || (first & granule) != 0 || ((last + 1) & granule) != 0
                || (request.physStart() & granule) != 0) {
            return Status.RANGE;
        }
        // The size less one always fits in 64 bits; phys_start plus it must not pass 2^64 - 1.
        long span = last - first;
        if (Long.compareUnsigned(request.physStart() + span, request.physStart()) < 0 || !config.inInputRange(first, last)) {
            return Status.RANGE;
        }
        if (overlapsReserved(first, last) || domain.overlaps(first, last)) {
            return Status.INVAL;
        }
        if (domain.mappingCount() >= config.maxMappingsPerDomain()) {
            return Status.NOMEM;
        }
        domain.add(new Mapping(first, last, request.physStart(), flags));
        return Status.OK;
    }

    /** The MSI window is the device's (PROBE reports it reserved): no mapping may cover it (matrix rows 29, 47). */
    static boolean overlapsReserved(long first, long last) {
        return Long.compareUnsigned(first, IommuConfig.MSI_END) <= 0 && Long.compareUnsigned(last, IommuConfig.MSI_START) >= 0;
    }

    private Status unmap(IommuRequest.Unmap request) {
        if (request.reservedSet()) {
            return Status.INVAL;
        }
        Domain domain = domains.get(request.domain());
        if (domain == null) {
            return Status.NOENT;
        }
        if (domain.bypass()) {
            return Status.INVAL;
        }
        long first = request.virtStart();
        long last = request.virtEnd();
        if (Long.compareUnsigned(last, first) < 0) {
            return Status.RANGE;
        }
        // All or nothing: a split is found before anything is removed (virtio 1.2 5.13.6.6, example 4).
        if (domain.wouldSplit(first, last)) {
            return Status.RANGE;
        }
        if (domain.removeWithin(first, last) > 0) {
            domain.endpoints().forEach(endpoint -> endpoint.cache().clear());
        }
        return Status.OK;
    }

    // ---- translation ----

    /**
     * Translates the whole access {@code [iova, iova + length)} for {@code endpoint} (null: unknown), every
     * byte of it: a range may run over several IOVA-adjacent mappings, each checked for the permission.
     * The caller holds the read lock and keeps it for the copy. {@code length} is positive.
     */
    Translation translate(int endpointId, Endpoint endpoint, long iova, long length, Access access) {
        if (endpoint == null) {
            return new Translation.Refused(IommuFault.Reason.UNKNOWN_ENDPOINT, iova, OptionalLong.empty());
        }
        Domain domain = endpoint.domain();
        if (domain == null) {
            return bypass && bypassConfig ? new Translation.Contiguous(iova)
                    : new Translation.Refused(IommuFault.Reason.NOT_ATTACHED, iova, OptionalLong.empty());
        }
        OptionalLong domainId = OptionalLong.of(Integer.toUnsignedLong(domain.id()));
        long last = iova + length - 1;
        if (Long.compareUnsigned(last, iova) < 0) {
            // The access wraps past 2^64 - 1: the bytes from 0 on are no continuation of it (matrix row 46).
            return new Translation.Refused(IommuFault.Reason.UNMAPPED, iova, domainId);
        }
        if (domain.bypass()) {
            return new Translation.Contiguous(iova);
        }
        List<long[]> pieces = null;
        long at = iova;
        while (true) {
            Mapping mapping = find(endpoint, domain, at);
            if (mapping == null) {
                return new Translation.Refused(IommuFault.Reason.UNMAPPED, at, domainId);
            }
            if (!mapping.permits(access)) {
                return new Translation.Refused(IommuFault.Reason.PERMISSION, at, domainId);
            }
            long pieceLast = Long.compareUnsigned(mapping.virtEnd(), last) < 0 ? mapping.virtEnd() : last;
            long physical = mapping.physical(at);
            if (pieces == null && pieceLast == last) {
                return new Translation.Contiguous(physical);
            }
            pieces = pieces == null ? new ArrayList<>() : pieces;
            long pieceLength = pieceLast - at + 1;
            long[] previous = pieces.isEmpty() ? null : pieces.getLast();
            if (previous != null && previous[0] + previous[1] == physical) {
                previous[1] += pieceLength; // guest-physically contiguous with the piece before: one copy
            } else {
                pieces.add(new long[] {physical, pieceLength});
            }
            if (pieceLast == last) {
                break;
            }
            at = pieceLast + 1;
        }
        if (pieces.size() == 1) {
            return new Translation.Contiguous(pieces.getFirst()[0]);
        }
        long[] physicals = new long[pieces.size()];
        long[] lengths = new long[pieces.size()];
        for (int i = 0; i < physicals.length; i++) {
            physicals[i] = pieces.get(i)[0];
            lengths[i] = pieces.get(i)[1];
        }
        return new Translation.Pieces(physicals, lengths);
    }

    /** The mapping covering {@code iova}: from the endpoint's cache, else a floor query, then cached. */
    private static Mapping find(Endpoint endpoint, Domain domain, long iova) {
        Mapping mapping = endpoint.cache().lookup(iova);
        if (mapping == null) {
            mapping = domain.covering(iova);
            if (mapping != null) {
                endpoint.cache().remember(mapping);
            }
        }
        return mapping;
    }

    // ---- views for the device, tests and snapshots ----

    /** The domain ID endpoint {@code id} is attached to, or empty. */
    public OptionalLong domainOf(int id) {
        return read(() -> {
            Endpoint endpoint = endpoints.get(id);
            return endpoint == null || endpoint.domain() == null ? OptionalLong.empty()
                    : OptionalLong.of(Integer.toUnsignedLong(endpoint.domain().id()));
        });
    }

    /** A copy of the domains: ID, identity or not, endpoints and mappings in IOVA order. */
    public List<DomainView> domains() {
        return read(() -> {
            List<DomainView> views = new ArrayList<>();
            for (Domain domain : domains.values()) {
                views.add(new DomainView(domain.id(), domain.bypass(),
                        domain.endpoints().stream().map(Endpoint::id).sorted().toList(), List.copyOf(domain.mappings())));
            }
            views.sort((a, b) -> Integer.compareUnsigned(a.id(), b.id()));
            return views;
        });
    }

    /** One domain as {@link #domains} shows it. */
    public record DomainView(int id, boolean bypass, List<Integer> endpoints, List<Mapping> mappings) {}

    /** Whether endpoint {@code id} was added, for the restore's checks. */
    boolean hasEndpoint(int id) {
        return read(() -> endpoints.containsKey(id));
    }

    /**
     * Replaces every domain with {@code saved} (already checked: IDs in range, endpoints known and in one
     * domain each, mappings valid and disjoint) and sets the bypass byte, all at once.
     */
    void replace(List<DomainView> saved, boolean bypassByte) {
        write(() -> {
            clearDomains();
            for (DomainView view : saved) {
                Domain domain = new Domain(view.id(), view.bypass());
                view.mappings().forEach(domain::add);
                for (int id : view.endpoints()) {
                    Endpoint endpoint = endpoints.get(id);
                    domain.endpoints().add(endpoint);
                    endpoint.domain(domain);
                }
                domains.put(domain.id(), domain);
            }
            bypass = bypassByte;
        });
    }

    private void write(Runnable change) {
        lock.writeLock().lock();
        try {
            change.run();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private <T> T read(java.util.function.Supplier<T> view) {
        lock.readLock().lock();
        try {
            return view.get();
        } finally {
            lock.readLock().unlock();
        }
    }
}
