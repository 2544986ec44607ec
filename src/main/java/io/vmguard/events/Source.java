package io.vmguard.events;

import java.util.Locale;

/** The part of vmguard an event comes from. */
public enum Source {
    VMM, IOMMU, VMI, AV;

    /** The word in the event schema. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
