package io.vmguard.pci;

/**
 * An entry of a function's capability list. {@link PciConfigSpace} places it (4-byte aligned, from 0x40
 * up), links it into the list and answers its first two bytes, the ID and the next pointer; every other
 * byte of the capability is the capability's own. Offsets are relative to the capability's start.
 *
 * <p>Accesses arrive whole, as the guest made them, when they fall inside the capability's body (a
 * dword the guest reads at the capability's start arrives as the two body bytes it covers). Reads must
 * have no side effects unless a specification demands one (virtio's configuration access window reads
 * the BAR it points at). Guest writes can hold anything: never throw for them. Calls may come from
 * several vCPU threads and are not serialised by the config space: a capability guards its own state.
 */
public interface PciCapability {
    /** Capability IDs this package uses (PCI Local Bus spec, appendix H). */
    int ID_VENDOR_SPECIFIC = 0x09;
    int ID_MSIX = 0x11;

    int id();

    /** Bytes the capability takes, its ID and next pointer included: 2 to 192. */
    int length();

    /** {@code size} (1-4) bytes at {@code offset} (at least 2), little-endian in the low bits. */
    int read(int offset, int size);

    void write(int offset, int size, int value);
}
