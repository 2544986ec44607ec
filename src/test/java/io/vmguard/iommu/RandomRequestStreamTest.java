package io.vmguard.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.dma.DmaFault;
import io.vmguard.testing.FuzzSeeds;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random request streams, as bytes through the request queue and as DMA through two endpoints: only spec
 * statuses come back, nothing throws, mappings never overlap, and every access agrees with a per-page
 * reference model of who may reach what. Addresses are drawn from a small window so requests collide.
 */
class RandomRequestStreamTest {
    private static final long PAGE = 4096;
    private static final int WINDOW_PAGES = 64;
    private static final int[] ENDPOINTS = {0x08, 0x10};

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomRequestBytesOnlyEverGetSpecStatusesOrNoReply(long seed) {
        Random random = new Random(seed);
        IommuHarness h = new IommuHarness();
        for (int endpoint : ENDPOINTS) {
            h.iommu.addEndpoint(endpoint);
        }
        Set<Status> seen = EnumSet.noneOf(Status.class);
        for (int i = 0; i < FuzzSeeds.scaled(400); i++) {
            byte[] request = new byte[random.nextInt(80)];
            random.nextBytes(request);
            if (request.length > 0 && random.nextInt(4) > 0) {
                request[0] = (byte) (1 + random.nextInt(5)); // mostly known types
            }
            int writable = random.nextInt(5) == 0 ? random.nextInt(80) : (request.length > 0 && request[0] == 5 ? IommuHarness.PROBE_REPLY : 4);
            IommuHarness.Reply reply = h.send(request, writable);
            if (reply.usedLength() != 0) {
                assertEquals(writable, reply.usedLength(), FuzzSeeds.reproduce(seed));
                Status status = Status.values()[reply.status()];
                assertTrue(EnumSet.of(Status.OK, Status.INVAL, Status.RANGE, Status.NOENT, Status.NOMEM).contains(status),
                        status + " " + FuzzSeeds.reproduce(seed));
                seen.add(status);
            }
        }
        assertTrue(h.interrupt.failures().isEmpty(), FuzzSeeds.reproduce(seed));
        assertTrue(seen.contains(Status.INVAL), FuzzSeeds.reproduce(seed));
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomStreamsKeepMappingsDisjointAndTranslationAgreesWithAReferenceModel(long seed) throws Exception {
        Random random = new Random(seed);
        IommuHarness h = new IommuHarness();
        Model model = new Model();
        Map<Integer, IommuDmaSpace> spaces = new HashMap<>();
        for (int endpoint : ENDPOINTS) {
            spaces.put(endpoint, h.endpoint(endpoint));
        }
        long ram = h.ram.alloc((WINDOW_PAGES + 1) * PAGE) + PAGE - 1 & -PAGE;
        for (int i = 0; i < FuzzSeeds.scaled(1500); i++) {
            int endpoint = ENDPOINTS[random.nextInt(ENDPOINTS.length)];
            int domain = random.nextInt(3);
            long first = PAGE * random.nextInt(WINDOW_PAGES);
            long last = first + PAGE * (1 + random.nextInt(6)) - 1 - (random.nextInt(20) == 0 ? 1 : 0);
            long phys = ram + PAGE * random.nextInt(WINDOW_PAGES - 6);
            int flags = random.nextInt(4);
            IommuRequest request = switch (random.nextInt(8)) {
                case 0 -> new IommuRequest.Attach(domain, endpoint, 0, false);
                case 1 -> new IommuRequest.Detach(domain, endpoint, false);
                case 2, 3, 4 -> new IommuRequest.Map(domain, first, last, phys, flags);
                default -> new IommuRequest.Unmap(domain, first, random.nextInt(4) == 0 && last >= PAGE * 3 ? last - PAGE * 3 : last, false);
            };
            Status expected = model.apply(request);
            Status actual;
            try {
                actual = h.iommu.domains().execute(request);
            } catch (RuntimeException e) {
                throw new AssertionError(request + " threw " + FuzzSeeds.reproduce(seed), e);
            }
            assertEquals(expected, actual, request + " " + FuzzSeeds.reproduce(seed));
            checkDisjoint(h.iommu.domains(), seed);
            // A few accesses, each compared with the model, page by page.
            for (int probe = 0; probe < 3; probe++) {
                int who = ENDPOINTS[random.nextInt(ENDPOINTS.length)];
                long iova = PAGE * random.nextInt(WINDOW_PAGES) + random.nextInt((int) PAGE);
                int length = 1 + random.nextInt(2 * (int) PAGE);
                Access access = random.nextBoolean() ? Access.READ : Access.WRITE;
                long[] expectedPhys = model.translate(who, iova, length, access);
                try {
                    MemorySegment buffer = MemorySegment.ofArray(new byte[length]);
                    if (access == Access.READ) {
                        spaces.get(who).read(iova, buffer);
                    } else {
                        spaces.get(who).write(iova, buffer);
                    }
                    if (expectedPhys == null) {
                        fail("endpoint " + who + " reached " + iova + "+" + length + " " + access + " " + FuzzSeeds.reproduce(seed));
                    }
                } catch (DmaFault refused) {
                    if (expectedPhys != null) {
                        fail("endpoint " + who + " refused " + iova + "+" + length + " " + access + ": " + refused.getMessage() + " "
                                + FuzzSeeds.reproduce(seed));
                    }
                }
                if (expectedPhys != null && access == Access.WRITE) {
                    // The write must have landed where the model says: stamp and read back through RAM.
                    byte stamp = (byte) (1 + random.nextInt(200));
                    byte[] data = new byte[length];
                    java.util.Arrays.fill(data, stamp);
                    spaces.get(who).write(iova, MemorySegment.ofArray(data));
                    assertEquals(stamp, h.ram.read(expectedPhys[0], 1)[0], FuzzSeeds.reproduce(seed));
                    assertEquals(stamp, h.ram.read(expectedPhys[1], 1)[0], FuzzSeeds.reproduce(seed));
                }
            }
        }
    }

    private static void checkDisjoint(IommuDomains domains, long seed) {
        for (IommuDomains.DomainView domain : domains.domains()) {
            long previousEnd = -1;
            boolean first = true;
            for (Mapping mapping : domain.mappings()) {
                assertTrue(first || Long.compareUnsigned(mapping.virtStart(), previousEnd) > 0, "overlap " + FuzzSeeds.reproduce(seed));
                previousEnd = mapping.virtEnd();
                first = false;
            }
        }
    }

    /** The spec's behaviour written the plain way: maps of pages, linear where the real one may not be. */
    private static final class Model {
        private final Map<Integer, Integer> attachedTo = new HashMap<>();
        private final Map<Integer, TreeMap<Long, Mapping>> domains = new HashMap<>();

        Status apply(IommuRequest request) {
            return switch (request) {
                case IommuRequest.Attach a -> {
                    Integer old = attachedTo.get(a.endpoint());
                    if (old != null && old == a.domain()) {
                        yield Status.OK;
                    }
                    leave(a.endpoint());
                    domains.computeIfAbsent(a.domain(), d -> new TreeMap<>());
                    attachedTo.put(a.endpoint(), a.domain());
                    yield Status.OK;
                }
                case IommuRequest.Detach d -> {
                    Integer old = attachedTo.get(d.endpoint());
                    if (old == null || old != d.domain()) {
                        yield Status.INVAL;
                    }
                    leave(d.endpoint());
                    yield Status.OK;
                }
                case IommuRequest.Map m -> {
                    TreeMap<Long, Mapping> mappings = domains.get(m.domain());
                    if (mappings == null) {
                        yield Status.NOENT;
                    }
                    if (((m.virtEnd() + 1) & (PAGE - 1)) != 0) {
                        yield Status.RANGE;
                    }
                    for (Mapping other : mappings.values()) {
                        if (m.virtStart() <= other.virtEnd() && other.virtStart() <= m.virtEnd()) {
                            yield Status.INVAL;
                        }
                    }
                    mappings.put(m.virtStart(), new Mapping(m.virtStart(), m.virtEnd(), m.physStart(), m.flags()));
                    yield Status.OK;
                }
                case IommuRequest.Unmap u -> {
                    TreeMap<Long, Mapping> mappings = domains.get(u.domain());
                    if (mappings == null) {
                        yield Status.NOENT;
                    }
                    if (u.virtEnd() < u.virtStart()) {
                        yield Status.RANGE;
                    }
                    List<Long> inside = new ArrayList<>();
                    for (Mapping other : mappings.values()) {
                        boolean touches = u.virtStart() <= other.virtEnd() && other.virtStart() <= u.virtEnd();
                        if (touches && (other.virtStart() < u.virtStart() || other.virtEnd() > u.virtEnd())) {
                            yield Status.RANGE;
                        }
                        if (touches) {
                            inside.add(other.virtStart());
                        }
                    }
                    inside.forEach(mappings::remove);
                    yield Status.OK;
                }
                case IommuRequest.Probe p -> Status.OK;
            };
        }

        private void leave(int endpoint) {
            Integer old = attachedTo.remove(endpoint);
            if (old != null && !attachedTo.containsValue(old)) {
                domains.remove(old);
            }
        }

        /** The guest-physical addresses of the access's first and last byte, or null when it must fault. */
        long[] translate(int endpoint, long iova, int length, Access access) {
            Integer domain = attachedTo.get(endpoint);
            if (domain == null) {
                return null;
            }
            long[] ends = new long[2];
            for (long at = iova; at < iova + length; at++) {
                Mapping found = null;
                for (Mapping mapping : domains.get(domain).values()) {
                    if (mapping.virtStart() <= at && at <= mapping.virtEnd()) {
                        found = mapping;
                    }
                }
                if (found == null || !found.permits(access)) {
                    return null;
                }
                if (at == iova) {
                    ends[0] = found.physical(at);
                }
                if (at == iova + length - 1) {
                    ends[1] = found.physical(at);
                }
            }
            return ends;
        }
    }
}
