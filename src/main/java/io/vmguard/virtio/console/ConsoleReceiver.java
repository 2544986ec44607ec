package io.vmguard.virtio.console;

import io.vmguard.dma.DmaFault;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceMeter;
import io.vmguard.virtio.PauseGate;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The console's receive side: host input waiting for the guest, and its delivery into the buffers the
 * driver puts on the receive queue once the guest has opened the port. Input is never dropped: bytes the
 * guest has no buffers for, or has not opened the port for, are held (and the host side stops reading)
 * until it has, across a device reset too.
 *
 * <p>Two threads deliver: the input pump when bytes arrive, the vCPU when the driver adds buffers or
 * activates the device. One lock serialises the queue, the context and the held bytes. Interrupts and
 * failure reports are sent after the lock is released ({@link io.vmguard.virtio.VirtioDevice}'s lock
 * rule); the transport drops those that come after a reset.
 *
 * <p>While the console is paused the pump's input is held, not delivered: the vCPU's fills are already
 * inside the console's {@link PauseGate}, the pump's go through it here, and the transport's kick of every
 * queue at resume delivers what waited.
 */
final class ConsoleReceiver {
    static final int CHUNK_BYTES = 4096;

    private final PauseGate gate;
    private final DeviceMeter meter;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition drained = lock.newCondition();
    private final byte[] held = new byte[CHUNK_BYTES];
    private final MemorySegment heldSegment = MemorySegment.ofArray(held);
    private int heldStart;
    private int heldEnd;
    private DeviceContext context;
    /** Whether the guest is ready for input (see {@link ConsoleControl}). */
    private boolean portOpen;
    /** The driver broke the queue: touch it no more until it resets the device. */
    private boolean broken;
    private boolean closed;

    ConsoleReceiver(PauseGate gate, DeviceMeter meter) {
        this.gate = gate;
        this.meter = meter;
    }

    /**
     * Hands {@code count} bytes (at most {@link #CHUNK_BYTES}) to the guest, waiting as long as it takes
     * for it to provide buffers.
     *
     * @return false when the receiver was closed first (the bytes are then dropped with the VM)
     */
    boolean deliver(byte[] bytes, int count) throws InterruptedException {
        if (count > CHUNK_BYTES) {
            throw new IllegalArgumentException(count + " bytes is more than one chunk");
        }
        lock.lock();
        try {
            if (heldStart != heldEnd) {
                throw new IllegalStateException("input delivered while earlier input is still held");
            }
            System.arraycopy(bytes, 0, held, 0, count);
            heldStart = 0;
            heldEnd = count;
        } finally {
            lock.unlock();
        }
        if (gate.enter()) {
            try {
                buffersAvailable();
            } finally {
                gate.exit();
            }
        }
        lock.lock();
        try {
            while (heldStart != heldEnd && !closed) {
                drained.await();
            }
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The device is active. With the port already open, held input goes into whatever buffers the driver
     * queued before DRIVER_OK at the next {@link #buffersAvailable}.
     */
    void attach(DeviceContext newContext, boolean open) {
        lock.lock();
        try {
            context = newContext;
            portOpen = open;
            broken = false;
        } finally {
            lock.unlock();
        }
    }

    /** The driver reset the device; held input waits for the next activation. */
    void detach() {
        lock.lock();
        try {
            context = null;
            portOpen = false;
        } finally {
            lock.unlock();
        }
    }

    /** The guest opened (or closed) the port: input may flow (or must wait). Returns what to send, unsent. */
    Signal portOpened(boolean open) {
        lock.lock();
        try {
            portOpen = open;
            return fill();
        } finally {
            lock.unlock();
        }
    }

    /** The driver added receive buffers (or the device was activated or resumed): fills them. Inside the gate. */
    void buffersAvailable() {
        Signal signal;
        lock.lock();
        try {
            signal = fill();
        } finally {
            lock.unlock();
        }
        signal.send();
    }

    /** Wakes a delivery waiting for buffers; it gives up. */
    void close() {
        lock.lock();
        try {
            closed = true;
            drained.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Moves held bytes into available receive buffers, in order; under the lock. */
    private Signal fill() {
        Virtqueue queue = context == null || broken || !portOpen ? null : context.queue(VirtioConsole.RECEIVE_QUEUE);
        if (queue == null || heldStart == heldEnd) {
            return Signal.NONE;
        }
        try {
            DescriptorChain chain;
            while (heldStart != heldEnd && (chain = queue.pop()) != null) {
                int count = (int) Math.min(heldEnd - heldStart, chain.writableBytes());
                chain.write(context.dma(), 0, heldSegment.asSlice(heldStart, count));
                heldStart += count;
                queue.addUsed(chain.head(), count);
                meter.completed(count);
            }
            if (heldStart == heldEnd) {
                drained.signalAll();
            }
            return queue.needsInterrupt() ? Signal.usedBuffers(context, VirtioConsole.RECEIVE_QUEUE) : Signal.NONE;
        } catch (DmaFault fault) {
            // The bytes stay held: the guest gets them after it resets the device.
            meter.failed();
            broken = true;
            return Signal.failure(context, "receive buffer: " + fault.getMessage());
        } catch (QueueException e) {
            meter.failed();
            broken = true;
            return Signal.failure(context, e.getMessage());
        }
    }

    /**
     * Whether the guest opened the port and whether the queue is broken. Input held from the host is not
     * saved: it belongs to this VM's host streams, which a restored VM does not have.
     */
    void saveState(StateWriter out) {
        lock.lock();
        try {
            out.putBoolean("portOpen", portOpen).putBoolean("broken", broken);
        } finally {
            lock.unlock();
        }
    }

    void restoreState(StateReader in) throws SnapshotException {
        boolean open = in.getBoolean("portOpen");
        boolean wasBroken = in.getBoolean("broken");
        lock.lock();
        try {
            portOpen = open;
            broken = wasBroken;
        } finally {
            lock.unlock();
        }
    }
}
