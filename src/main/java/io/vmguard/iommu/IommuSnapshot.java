package io.vmguard.iommu;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The translation state in a snapshot, and its checks on the way back: a snapshot is untrusted, and a
 * domain restored wrong would hand a device memory the guest never mapped. The tree:
 *
 * <pre>
 *   bypass: boolean
 *   domainCount
 *   domains[]: id (unsigned 32-bit), bypass, endpointCount, endpoints [int...], mappingCount,
 *              mappings [virtStart, virtEnd, physStart, flags, ...] (four longs a mapping, in IOVA order)
 * </pre>
 */
final class IommuSnapshot {
    private IommuSnapshot() {}

    static void save(IommuDomains domains, StateWriter out) {
        out.putBoolean("bypass", domains.bypass());
        out.putInt("domainCount", domains.domains().size());
        for (IommuDomains.DomainView domain : domains.domains()) {
            StateWriter entry = out.append("domains");
            entry.putLong("id", Integer.toUnsignedLong(domain.id())).putBoolean("bypass", domain.bypass());
            entry.putInt("endpointCount", domain.endpoints().size())
                    .putInts("endpoints", domain.endpoints().stream().mapToInt(Integer::intValue).toArray());
            long[] mappings = new long[4 * domain.mappings().size()];
            for (int i = 0; i < domain.mappings().size(); i++) {
                Mapping mapping = domain.mappings().get(i);
                mappings[4 * i] = mapping.virtStart();
                mappings[4 * i + 1] = mapping.virtEnd();
                mappings[4 * i + 2] = mapping.physStart();
                mappings[4 * i + 3] = mapping.flags();
            }
            entry.putInt("mappingCount", domain.mappings().size()).putLongs("mappings", mappings);
        }
    }

    /** Checks everything, then replaces the state in one step: nothing is half restored. */
    static void restore(IommuDomains domains, StateReader in) throws SnapshotException {
        IommuConfig config = domains.config();
        boolean bypass = in.getBoolean("bypass");
        int count = in.getInt("domainCount", 0, config.maxDomains());
        List<StateReader> entries = count == 0 && !in.has("domains") ? List.of() : in.list("domains", config.maxDomains());
        if (entries.size() != count) {
            throw new SnapshotException("snapshot field " + name(in, "domains") + " has " + entries.size() + " entries, domainCount says " + count);
        }
        List<IommuDomains.DomainView> views = new ArrayList<>();
        Set<Integer> ids = new HashSet<>();
        Set<Integer> attached = new HashSet<>();
        for (StateReader entry : entries) {
            int id = (int) entry.getLong("id", 0, 0xffff_ffffL);
            if (!config.inDomainRange(id) || !ids.add(id)) {
                throw new SnapshotException("snapshot field " + name(entry, "id") + " is " + Integer.toUnsignedString(id)
                        + ", outside the domain range or repeated");
            }
            boolean identity = entry.getBoolean("bypass");
            List<Integer> endpoints = endpoints(domains, entry, attached);
            List<Mapping> mappings = mappings(config, entry, identity);
            views.add(new IommuDomains.DomainView(id, identity, endpoints, mappings));
        }
        domains.replace(views, bypass);
    }

    private static List<Integer> endpoints(IommuDomains domains, StateReader entry, Set<Integer> attached) throws SnapshotException {
        // At least one: a domain lives only while an endpoint is in it.
        int count = entry.getInt("endpointCount", 1, Integer.MAX_VALUE);
        int[] saved = entry.getInts("endpoints", count);
        List<Integer> endpoints = new ArrayList<>();
        for (int endpoint : saved) {
            if (!domains.hasEndpoint(endpoint)) {
                throw new SnapshotException("snapshot field " + name(entry, "endpoints") + " names endpoint 0x"
                        + Integer.toHexString(endpoint) + ", which this VM does not put behind the IOMMU");
            }
            if (!attached.add(endpoint)) {
                throw new SnapshotException("snapshot field " + name(entry, "endpoints") + " puts endpoint 0x"
                        + Integer.toHexString(endpoint) + " in two domains");
            }
            endpoints.add(endpoint);
        }
        return endpoints;
    }

    private static List<Mapping> mappings(IommuConfig config, StateReader entry, boolean identity) throws SnapshotException {
        int count = entry.getInt("mappingCount", 0, config.maxMappingsPerDomain());
        long[] saved = entry.getLongs("mappings", 4 * count);
        if (identity && count > 0) {
            throw new SnapshotException("snapshot field " + name(entry, "mappings") + " holds mappings in an identity domain");
        }
        List<Mapping> mappings = new ArrayList<>(count);
        long previousEnd = 0;
        for (int i = 0; i < count; i++) {
            long first = saved[4 * i];
            long last = saved[4 * i + 1];
            long physical = saved[4 * i + 2];
            long flags = saved[4 * i + 3];
            long granule = IommuConfig.GRANULE - 1;
            boolean valid = Long.compareUnsigned(first, last) <= 0 && (first & granule) == 0 && ((last + 1) & granule) == 0
                    && (physical & granule) == 0 && Long.compareUnsigned(physical + (last - first), physical) >= 0
                    && config.inInputRange(first, last) && !IommuDomains.overlapsReserved(first, last)
                    && (flags & ~(long) Mapping.KNOWN_FLAGS) == 0
                    && (i == 0 || Long.compareUnsigned(first, previousEnd) > 0);
            if (!valid) {
                throw new SnapshotException("snapshot field " + name(entry, "mappings") + " entry " + i
                        + " is not a valid mapping (aligned, in the input range, in IOVA order and disjoint)");
            }
            mappings.add(new Mapping(first, last, physical, (int) flags));
            previousEnd = last;
        }
        return mappings;
    }

    private static String name(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }
}
