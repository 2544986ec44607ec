package io.vmguard.api.model;

/**
 * {@code PUT /network-interfaces/{iface_id}}: a virtio-net card on the TAP device {@code host_dev_name}, or
 * (vmguard's extension) on the datagram sockets of {@code vmguard_socket}; exactly one of the two.
 */
public record NetworkInterface(String ifaceId, String hostDevName, String guestMac, SocketBackend vmguardSocket) {
    public NetworkInterface {
        Fields.required(ifaceId, "iface_id");
        Fields.notBlank(hostDevName, "host_dev_name");
        Fields.notBlank(guestMac, "guest_mac");
        if ((hostDevName == null) == (vmguardSocket == null)) {
            throw new IllegalArgumentException("give exactly one of `host_dev_name` (a TAP device) and `vmguard_socket`");
        }
    }
}
