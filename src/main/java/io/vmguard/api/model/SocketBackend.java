package io.vmguard.api.model;

/**
 * vmguard's extension to a network interface: instead of a TAP device, one Ethernet frame per AF_UNIX
 * datagram between a socket bound at {@code local_path} and a peer at {@code peer_path} (no root needed).
 */
public record SocketBackend(String localPath, String peerPath) {
    public SocketBackend {
        Fields.required(localPath, "local_path");
        Fields.required(peerPath, "peer_path");
    }
}
