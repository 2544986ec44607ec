/**
 * virtio 1.x devices and the transport-independent half of their transports. Every device and both
 * transports follow one lock rule, written out in {@link io.vmguard.virtio.VirtioDevice}: a device sends
 * interrupts and failures only after releasing its own lock, and reset waits for nothing but that lock.
 */
package io.vmguard.virtio;
