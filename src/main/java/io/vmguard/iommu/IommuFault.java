package io.vmguard.iommu;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A device access the IOMMU refused: which device and endpoint, the domain it was attached to (none when
 * it was not attached), the first address that could not be reached, the access's length and direction.
 *
 * @param device  the device's name as the VMM gave it (e.g. "virtio-blk 0")
 * @param address the first IOVA of the access that is not reachable (the whole access moved nothing)
 */
public record IommuFault(String device, int endpoint, OptionalLong domain, long address, long length, Access access,
                         Reason reason) {
    /** Why it was refused; each maps to the fault reason the event queue carries (virtio 1.2, 5.13.6.9). */
    public enum Reason {
        /** The endpoint is not one the IOMMU knows (R_UNKNOWN). */
        UNKNOWN_ENDPOINT(0),
        /** The endpoint is not attached to a domain and bypass is off (R_DOMAIN). */
        NOT_ATTACHED(1),
        /** No mapping covers the address, or it lies in a reserved region (R_MAPPING). */
        UNMAPPED(2),
        /** A mapping covers it but without the access's permission (R_MAPPING). */
        PERMISSION(2);

        private final int code;

        Reason(int code) {
            this.code = code;
        }

        /** virtio_iommu_fault.reason. */
        public int code() {
            return code;
        }
    }

    /**
     * The details of the security event ({@code source: "iommu"}): device, endpoint, address, length,
     * access ("read"/"write"), domain (absent when the endpoint was in none) and reason.
     */
    public Map<String, Object> details() {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("device", device);
        details.put("endpoint", endpoint);
        details.put("address", "0x" + Long.toHexString(address));
        details.put("length", length);
        details.put("access", access.name().toLowerCase(Locale.ROOT));
        domain.ifPresent(id -> details.put("domain", id));
        details.put("reason", reason.name().toLowerCase(Locale.ROOT).replace('_', '-'));
        return details;
    }
}
