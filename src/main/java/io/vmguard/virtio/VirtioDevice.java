package io.vmguard.virtio;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;

/**
 * A virtio device model, independent of its transport (virtio-mmio or virtio-pci). The transport runs
 * the status, feature and queue set-up protocol; the device sees only the outcome.
 *
 * <p>Lifecycle: {@link #activate} once the driver sets DRIVER_OK, then {@link #queueNotified} for each
 * kick, then {@link #reset} when the driver resets the device (after which it may be activated again).
 * Calls come from the vCPU thread; a device with threads of its own serialises its state.
 *
 * <p><b>The lock rule</b>, for every device and both transports. The transport may hold its locks when it
 * calls the device ({@link #activate}, {@link #queueNotified}, {@link #reset}), and it takes them again to
 * deliver what the device sends back through its {@link DeviceContext}. So locks are always taken
 * transport first, device second, and never the other way round:
 * <ol>
 *   <li>A device touches its queues and context only under its own lock (or only on the one thread that
 *       calls it), and raises interrupts and reports failures only after releasing every lock of its own:
 *       decide under the lock, send after it ({@link Signal}). Guest memory may be used under the lock.</li>
 *   <li>A device never holds its lock across a wait for its backend or for the guest ({@code wait} and
 *       conditions release it), and {@link #reset} waits for nothing but that lock: never for a device
 *       thread to finish, since that thread may be about to send, which waits for the transport's lock
 *       that the caller of reset holds. So a reset takes no longer than one request under the lock.</li>
 *   <li>The transport closes the context's interrupt and failure at reset: what a late device thread
 *       sends through them afterwards is dropped, never seen by the driver's next use of the device.</li>
 * </ol>
 * Breaking rule 1 deadlocks: a device thread holding its lock waits for the transport's, while the vCPU
 * resetting the device holds the transport's and waits for the device's.
 *
 * <p><b>Pause and snapshots.</b> {@link #pause} returns once nothing of the device's touches guest memory
 * or interrupts the guest, and nothing will until {@link #resume} (a {@link PauseGate} does this); it takes
 * no lock of the transport's, so it cannot deadlock with a reset. The transport saves the queues and its
 * registers; the device saves only what is its own ({@link #saveState}). On restore the transport
 * re-activates a device that was running, with its queues where they were, and then calls
 * {@link #restoreState}: the device is paused throughout, and runs again at {@link #resume}.
 */
public interface VirtioDevice extends AutoCloseable, Snapshottable {
    DeviceType type();

    /** The device-specific feature bits it offers (the transport adds {@link VirtioFeatures#TRANSPORT}). */
    long features();

    /** How many virtqueues it has. */
    int queueCount();

    /** The largest size the driver may give each queue (a power of two). */
    default int maxQueueSize() {
        return 256;
    }

    /** Reads the device-specific configuration space; bytes beyond it read as zero. */
    void readConfig(long offset, MemorySegment data);

    /** Writes the device-specific configuration space; writes to read-only fields are ignored. */
    default void writeConfig(long offset, MemorySegment data) {}

    /** The driver is ready; the device may use its queues from now on. */
    void activate(DeviceContext context);

    /**
     * The driver made buffers available on queue {@code queueIndex}.
     *
     * @throws QueueException when the queue is malformed; the transport sets DEVICE_NEEDS_RESET
     */
    void queueNotified(int queueIndex) throws QueueException;

    /** Back to the state before {@link #activate}: stop using the queues, forget the context. */
    void reset();

    /**
     * Stops touching guest memory and raising interrupts; returns when work under way is done. A kick while
     * paused may be ignored: the transport kicks every queue again at {@link #resume}. Idempotent.
     */
    default void pause() {}

    /** Undoes {@link #pause}. */
    default void resume() {}

    /** Requests, bytes and errors so far; the transport adds notifications and interrupts. Any thread, cheap. */
    default DeviceCounters counters() {
        return DeviceCounters.ZERO;
    }

    /**
     * The device's own state beyond its queues and the transport's registers (a MAC, messages waiting for
     * the driver). Called while paused. A device with none writes nothing.
     */
    @Override
    default void saveState(StateWriter out) {}

    /**
     * Takes back what {@link #saveState} wrote, checking every field (the snapshot is untrusted). Called
     * while paused, after the transport has re-activated a device that was running.
     */
    @Override
    default void restoreState(StateReader in) throws SnapshotException {}

    /** Releases host resources (files, sockets, threads) when the VM ends. */
    @Override
    default void close() {}
}
