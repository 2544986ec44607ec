/**
 * Host-side network backends: where a virtual network card's Ethernet frames go, with no virtio knowledge.
 *
 * <p>A card opens its backend from the command line's spec with {@link io.vmguard.net.NetBackend#open}
 * ({@link io.vmguard.net.NetSpec#parse} reads {@code socket:LOCAL_PATH,PEER_PATH[,mac=MAC][,model=M]} or
 * {@code tap:IFNAME[,mac=MAC][,model=M]}, M the card: {@link io.vmguard.net.NetModel}; the MAC, or {@link io.vmguard.net.MacAddress#generate} when absent, is the
 * card's). Its transmit queue calls {@link io.vmguard.net.NetBackend#send} with each frame as a native
 * segment, guest memory included; one receive thread per card loops on
 * {@link io.vmguard.net.NetBackend#receive} with a buffer and a timeout until it returns
 * {@link io.vmguard.net.NetBackend#CLOSED}; {@link io.vmguard.net.NetBackend#close} ends that loop.
 * Frames the backend cannot carry are dropped and counted, as on a wire; a {@link io.vmguard.net.NetException}
 * means the backend itself is finished.
 */
package io.vmguard.net;
