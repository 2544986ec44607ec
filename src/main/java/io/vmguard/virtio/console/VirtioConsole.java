package io.vmguard.virtio.console;

import io.vmguard.dma.DmaFault;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.ConfigSpace;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.DeviceMeter;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.PauseGate;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.Virtqueue;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;

/**
 * virtio-console (virtio 1.2, section 5.3) with one port: queue 0 carries host input to the guest, queue
 * 1 the guest's output to the host. Linux makes the port its hvc0 terminal.
 *
 * <p>MULTIPORT is offered although there is one port, for its control queues (2 and 3): through them the
 * guest says when the port is open, and only then does input flow ({@link ConsoleControl} says why). A
 * driver that does not negotiate MULTIPORT gets input as soon as it provides buffers.
 *
 * <p>Output is written to the host stream on the vCPU thread when the driver kicks, and flushed after
 * each batch; the driver busy-waits for its transmit buffers, so they are returned at once even when the
 * host stream fails (the bytes are then lost, with one line on stderr). The stream is written outside this
 * object's lock (each chunk is copied out under it), so a slow terminal or pipe holds up only the guest's
 * output, never a reset, input or another vCPU's use of the control queues. Input is read by a daemon thread
 * and held until the guest has opened the port and provides buffers ({@link ConsoleReceiver}).
 *
 * <p>Locks: this object's guards the transmit and control queues and the context; the receiver has its
 * own (taken after this one, never before). Output has one more, held across a transmit batch and taken
 * before this one: one batch at a time owns the chunk buffer and the stream. Interrupts and failures are sent after both are released
 * ({@link VirtioDevice}'s lock rule).
 *
 * <p>Pause: output is written inside the kick that brings it, and input waits in the receiver while paused
 * ({@link ConsoleReceiver}). A snapshot holds whether the guest opened the port and the control answers
 * still waiting for its buffers, so the handshake goes on where it was.
 */
public final class VirtioConsole implements VirtioDevice {
    public static final long F_MULTIPORT = 1L << 1;

    static final int RECEIVE_QUEUE = 0;
    static final int TRANSMIT_QUEUE = 1;
    static final int CONTROL_RECEIVE_QUEUE = 2;
    static final int CONTROL_TRANSMIT_QUEUE = 3;
    /** struct virtio_console_config: cols, rows (F_SIZE), max_nr_ports (MULTIPORT), emerg_wr (EMERG_WRITE). */
    static final int CONFIG_MAX_NR_PORTS = 4;
    private static final int CONFIG_BYTES = 12;
    private static final int CHUNK_BYTES = 4096;

    private final OutputStream output;
    private final PauseGate gate = new PauseGate();
    private final DeviceMeter meter = new DeviceMeter();
    private final ConsoleReceiver receiver = new ConsoleReceiver(gate, meter);
    private final ConsoleControl control = new ConsoleControl(receiver::portOpened);
    private final MemorySegment config = configSpace();
    /** Held across a transmit batch: its owner alone uses {@link #transmitted} and the output stream. */
    private final Object outputLock = new Object();
    private final byte[] transmitted = new byte[CHUNK_BYTES];
    private final MemorySegment transmittedSegment = MemorySegment.ofArray(transmitted);
    private InputPump pump;
    private DeviceContext context;
    private boolean outputFailed;

    private VirtioConsole(OutputStream output) {
        this.output = output;
    }

    /**
     * A console whose guest output goes to {@code output} and whose input comes from {@code input},
     * read from now on by a daemon thread. Neither stream is closed by the console.
     */
    public static VirtioConsole start(InputStream input, OutputStream output) {
        VirtioConsole console = new VirtioConsole(output);
        console.pump = InputPump.start(input, console.receiver);
        return console;
    }

    @Override
    public DeviceType type() {
        return DeviceType.CONSOLE;
    }

    private static MemorySegment configSpace() {
        MemorySegment space = MemorySegment.ofArray(new byte[CONFIG_BYTES]);
        space.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), CONFIG_MAX_NR_PORTS, 1);
        return space;
    }

    @Override
    public long features() {
        return F_MULTIPORT;
    }

    /** Port 0's two queues and the two control queues; a driver without MULTIPORT uses the first two. */
    @Override
    public int queueCount() {
        return 4;
    }

    @Override
    public void readConfig(long offset, MemorySegment data) {
        ConfigSpace.read(config, offset, data);
    }

    /** The transport serialises activate and reset, so the receiver may be attached outside this lock. */
    @Override
    public void activate(DeviceContext context) {
        synchronized (this) {
            this.context = context;
            control.reset();
        }
        receiver.attach(context, !context.negotiated(F_MULTIPORT));
        if (gate.enter()) {
            try {
                receiver.buffersAvailable(); // held input into buffers queued before DRIVER_OK
            } finally {
                gate.exit();
            }
        }
    }

    @Override
    public void queueNotified(int queueIndex) throws QueueException {
        if (!gate.enter()) {
            return;
        }
        try {
            switch (queueIndex) {
                case RECEIVE_QUEUE -> receiver.buffersAvailable();
                case TRANSMIT_QUEUE -> transmit();
                case CONTROL_RECEIVE_QUEUE, CONTROL_TRANSMIT_QUEUE -> Signal.decideThenSend(this, () -> controlQueues(queueIndex));
                default -> { }
            }
        } finally {
            gate.exit();
        }
    }

    /** Under the lock. */
    private Signal controlQueues(int queueIndex) throws QueueException {
        if (context == null) {
            return Signal.NONE;
        }
        return queueIndex == CONTROL_TRANSMIT_QUEUE ? control.fromDriver(context) : control.toDriver(context);
    }

    /**
     * Writes every buffer the driver made available to the host stream, then sends the interrupt. The
     * queue is used under this object's lock, the stream outside it; a reset part-way abandons the batch.
     */
    private void transmit() throws QueueException {
        Signal signal = Signal.NONE;
        synchronized (outputLock) {
            while (true) {
                DeviceContext active;
                Virtqueue queue;
                DescriptorChain chain;
                synchronized (this) {
                    active = context;
                    queue = active == null ? null : active.queue(TRANSMIT_QUEUE);
                    chain = queue == null ? null : queue.pop();
                    if (chain == null) {
                        signal = queue != null && queue.needsInterrupt() ? Signal.usedBuffers(active, TRANSMIT_QUEUE) : Signal.NONE;
                        break;
                    }
                }
                for (long done = 0; done < chain.readableBytes(); ) {
                    int count = (int) Math.min(CHUNK_BYTES, chain.readableBytes() - done);
                    synchronized (this) {
                        if (context != active) {
                            return; // reset meanwhile: the chain belongs to a queue that is gone
                        }
                        try {
                            chain.read(active.dma(), done, transmittedSegment.asSlice(0, count));
                        } catch (DmaFault fault) {
                            throw new QueueException("transmit buffer: " + fault.getMessage(), fault);
                        }
                    }
                    emit(count);
                    done += count;
                }
                synchronized (this) {
                    if (context != active) {
                        return;
                    }
                    queue.addUsed(chain.head(), 0);
                    meter.completed(chain.readableBytes());
                }
            }
            flushOutput();
        }
        signal.send();
    }

    private void emit(int count) {
        if (outputFailed) {
            return;
        }
        try {
            output.write(transmitted, 0, count);
        } catch (IOException e) {
            outputFailed(e);
        }
    }

    private void flushOutput() {
        if (outputFailed) {
            return;
        }
        try {
            output.flush();
        } catch (IOException e) {
            outputFailed(e);
        }
    }

    private void outputFailed(IOException e) {
        outputFailed = true;
        meter.error();
        System.err.println("vmguard: virtio-console output failed, further output is dropped: " + e.getMessage());
    }

    @Override
    public void reset() {
        synchronized (this) {
            context = null;
            control.reset();
        }
        receiver.detach();
    }

    /** Returns once no output is being written and no input delivered; input then waits until {@link #resume}. */
    @Override
    public void pause() {
        gate.pause();
    }

    @Override
    public void resume() {
        gate.resume();
    }

    @Override
    public DeviceCounters counters() {
        return meter.counters();
    }

    @Override
    public void saveState(StateWriter out) {
        synchronized (this) {
            control.saveState(out.child("control"));
        }
        receiver.saveState(out.child("receiver"));
    }

    /** After the transport re-activated the device, which reset the handshake: this puts it back. */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        StateReader controlState = in.child("control");
        StateReader receiverState = in.child("receiver");
        synchronized (this) {
            control.restoreState(controlState);
        }
        receiver.restoreState(receiverState);
    }

    /** Stops the input thread (see {@link InputPump#close()} for a read it cannot wake) and flushes output. */
    @Override
    public void close() {
        synchronized (this) {
            pump.close();
            receiver.close();
        }
        synchronized (outputLock) {
            flushOutput();
        }
    }

    /** Whether the input thread still runs (it ends at end of input, on a read error, or when closed). */
    public boolean inputRunning() {
        return pump.isRunning();
    }

    /** Waits up to {@code timeout} for the input thread to end; returns whether it has. */
    public boolean awaitInputEnd(Duration timeout) throws InterruptedException {
        return pump.awaitEnd(timeout);
    }
}
