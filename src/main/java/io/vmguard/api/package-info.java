/**
 * The control API (issue 8): HTTP/1.1 with JSON bodies on a Unix socket ({@code --api-sock}, mode 0600)
 * and, only when asked, on TCP behind a bearer token ({@code --api-tcp} with {@code --api-token-file}).
 *
 * <h2>Firecracker's requests</h2>
 * Same paths, bodies, status codes and error body ({@code {"fault_message": "..."}}; 204 on success) as
 * Firecracker's swagger: {@code GET /}, {@code GET /version}, {@code GET /vm/config},
 * {@code PUT /boot-source}, {@code PUT|PATCH|GET /machine-config}, {@code PUT /drives/{id}},
 * {@code PUT /network-interfaces/{id}}, {@code PUT /logger}, {@code PUT /metrics}, {@code PUT /actions}
 * (InstanceStart, SendCtrlAltDel, FlushMetrics), {@code PATCH /vm}, {@code PUT /snapshot/create},
 * {@code PUT /snapshot/load}. Unknown fields, wrong types and duplicate keys are refused (400), as
 * Firecracker's serde does; so is any request the VM's state does not allow, with the reason.
 *
 * <p>Where vmguard differs, on purpose: unknown paths answer 404 and known paths under another method 405
 * (Firecracker answers both with 400; the message is Firecracker's); vcpu_count up to 64 (Firecracker:
 * 32), and smt is accepted but gives no sibling threads; default memory 256 MiB (Firecracker: 128); full snapshots only (Diff is a 400); memory
 * backend "File" only; a network interface may use vmguard's datagram sockets instead of a TAP device
 * ({@code vmguard_socket: {local_path, peer_path}}) and ask for an emulated Intel e1000 instead of
 * virtio-net ({@code vmguard_model: "e1000"}), and a network override may also carry
 * {@code guest_mac} and {@code vmguard_socket}; a restored VM's cards are named eth0, eth1, ... (the
 * snapshot does not record interface ids).
 *
 * <h2>vmguard's own</h2>
 * {@code GET /events}: the security event stream, one JSON object per line from the moment of connection
 * (blank lines are keep-alives); {@code GET /metrics}: the VM's counters and the API's.
 *
 * <p>Layout: {@link io.vmguard.api.ApiServer} wires Jetty and its bounds; {@link io.vmguard.api.Routes}
 * maps requests to endpoints ({@link io.vmguard.api.FirecrackerRoutes}, {@link io.vmguard.api.VmguardRoutes});
 * {@link io.vmguard.api.Instance} is the VM's life and {@link io.vmguard.api.PreBootConfig} the
 * configuration before boot; bodies are records in {@code api.model}.
 */
package io.vmguard.api;
