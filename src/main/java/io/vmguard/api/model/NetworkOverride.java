package io.vmguard.api.model;

/**
 * One card's new backend for a restore: Firecracker's {@code host_dev_name} (a TAP device), or vmguard's
 * {@code vmguard_socket}; vmguard also takes a {@code guest_mac}, so that clones of one snapshot differ.
 */
public record NetworkOverride(String ifaceId, String hostDevName, SocketBackend vmguardSocket, String guestMac) {
    public NetworkOverride {
        Fields.required(ifaceId, "iface_id");
        Fields.notBlank(hostDevName, "host_dev_name");
        Fields.notBlank(guestMac, "guest_mac");
        if ((hostDevName == null) == (vmguardSocket == null)) {
            throw new IllegalArgumentException("network override for '" + ifaceId
                    + "': give exactly one of `host_dev_name` and `vmguard_socket`");
        }
    }
}
