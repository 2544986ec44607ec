package io.vmguard.iommu;

/**
 * A request from the driver's request queue, decoded but not yet checked against the state (virtio 1.2,
 * 5.13.6). Fields are the wire's, unsigned values kept in Java's signed types; {@code reservedSet} says
 * whether the driver put anything in a reserved field, which some requests must refuse.
 */
public sealed interface IommuRequest {
    int ATTACH = 1;
    int DETACH = 2;
    int MAP = 3;
    int UNMAP = 4;
    int PROBE = 5;

    /** ATTACH: put {@code endpoint} in {@code domain}, creating it (an identity domain with {@link #F_BYPASS}). */
    record Attach(int domain, int endpoint, int flags, boolean reservedSet) implements IommuRequest {}

    /** DETACH: take {@code endpoint} out of {@code domain}. */
    record Detach(int domain, int endpoint, boolean reservedSet) implements IommuRequest {}

    /** MAP: IOVAs {@code [virtStart, virtEnd]} to {@code physStart} onwards in {@code domain}. */
    record Map(int domain, long virtStart, long virtEnd, long physStart, int flags) implements IommuRequest {}

    /** UNMAP: remove every mapping of {@code domain} inside {@code [virtStart, virtEnd]}. */
    record Unmap(int domain, long virtStart, long virtEnd, boolean reservedSet) implements IommuRequest {}

    /** PROBE: what the device knows of {@code endpoint} (its reserved regions). */
    record Probe(int endpoint) implements IommuRequest {}

    /** virtio_iommu_req_attach.flags: the domain is an identity (bypass) domain. */
    int F_BYPASS = 1;
}
