package io.vmguard.iommu;

import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;

/**
 * One address space: its mappings, ordered by first IOVA (unsigned) so that every lookup is a floor query
 * and every range operation a sub-map, never a scan; and the endpoints attached to it. An identity
 * ({@code bypass}) domain has no mappings: its endpoints reach guest-physical addresses as they are.
 *
 * <p>Not thread-safe: {@link IommuDomains} guards it with its lock.
 */
final class Domain {
    private final int id;
    private final boolean bypass;
    private final NavigableMap<Long, Mapping> mappings = new TreeMap<>(Long::compareUnsigned);
    private final Set<Endpoint> endpoints = new LinkedHashSet<>();

    Domain(int id, boolean bypass) {
        this.id = id;
        this.bypass = bypass;
    }

    int id() {
        return id;
    }

    boolean bypass() {
        return bypass;
    }

    Set<Endpoint> endpoints() {
        return endpoints;
    }

    int mappingCount() {
        return mappings.size();
    }

    Collection<Mapping> mappings() {
        return mappings.values();
    }

    /** The mapping that covers {@code iova}, or null: a point query (the mapping starting at or below it). */
    Mapping covering(long iova) {
        Map.Entry<Long, Mapping> entry = mappings.floorEntry(iova);
        return entry != null && entry.getValue().contains(iova) ? entry.getValue() : null;
    }

    /** Whether any mapping shares an IOVA with {@code [first, last]}. */
    boolean overlaps(long first, long last) {
        if (covering(first) != null) {
            return true;
        }
        Map.Entry<Long, Mapping> next = mappings.higherEntry(first);
        return next != null && Long.compareUnsigned(next.getKey(), last) <= 0;
    }

    void add(Mapping mapping) {
        mappings.put(mapping.virtStart(), mapping);
    }

    /**
     * Whether unmapping {@code [first, last]} would cut a mapping in two: one that starts before {@code first}
     * and reaches it, or one that covers {@code last} and goes on past it.
     */
    boolean wouldSplit(long first, long last) {
        Mapping atFirst = covering(first);
        if (atFirst != null && atFirst.virtStart() != first) {
            return true;
        }
        Mapping atLast = covering(last);
        return atLast != null && atLast.virtEnd() != last;
    }

    /** Removes every mapping starting inside {@code [first, last]} (all wholly inside, once {@link #wouldSplit} is false). */
    int removeWithin(long first, long last) {
        NavigableMap<Long, Mapping> inside = mappings.subMap(first, true, last, true);
        int removed = inside.size();
        inside.clear();
        return removed;
    }
}
