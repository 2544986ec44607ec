package io.vmguard.api.model;

/**
 * {@code PUT /network-interfaces/{iface_id}}: a network card on the TAP device {@code host_dev_name}, or
 * (vmguard's extension) on the datagram sockets of {@code vmguard_socket}; exactly one of the two. The card
 * is virtio-net unless (vmguard's extension) {@code vmguard_model} is {@code "e1000"}: an emulated Intel
 * 82540EM.
 */
public record NetworkInterface(String ifaceId, String hostDevName, String guestMac, SocketBackend vmguardSocket,
                               String vmguardModel) {
    public NetworkInterface {
        if (vmguardModel != null) {
            io.vmguard.net.NetModel.parse(vmguardModel);
        }
        Fields.required(ifaceId, "iface_id");
        Fields.notBlank(hostDevName, "host_dev_name");
        Fields.notBlank(guestMac, "guest_mac");
        if ((hostDevName == null) == (vmguardSocket == null)) {
            throw new IllegalArgumentException("give exactly one of `host_dev_name` (a TAP device) and `vmguard_socket`");
        }
    }

    /** A card without vmguard_model: virtio-net. */
    public NetworkInterface(String ifaceId, String hostDevName, String guestMac, SocketBackend vmguardSocket) {
        this(ifaceId, hostDevName, guestMac, vmguardSocket, null);
    }

    /** The card model asked for: virtio-net unless {@code vmguard_model} says otherwise. */
    public io.vmguard.net.NetModel model() {
        return vmguardModel == null ? io.vmguard.net.NetModel.VIRTIO : io.vmguard.net.NetModel.parse(vmguardModel);
    }
}
