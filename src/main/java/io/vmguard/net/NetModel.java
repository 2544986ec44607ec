package io.vmguard.net;

import java.util.Locale;

/**
 * Which network card the guest sees on a backend: virtio-net (the default: fastest, needs a virtio
 * driver) or an emulated Intel 82540EM ("e1000", which any guest drives, and whose DMA the IOMMU polices
 * as it does virtio's).
 */
public enum NetModel {
    VIRTIO, E1000;

    /** The name on the command line and in the API: {@code virtio} or {@code e1000}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Reads a label; an IllegalArgumentException names the choices. */
    public static NetModel parse(String text) {
        for (NetModel model : values()) {
            if (model.label().equals(text)) {
                return model;
            }
        }
        throw new IllegalArgumentException("network card model must be virtio or e1000, not '" + text + "'");
    }
}
