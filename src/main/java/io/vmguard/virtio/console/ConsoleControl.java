package io.vmguard.virtio.console;

import io.vmguard.dma.DmaFault;
import io.vmguard.events.GuestLog;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The MULTIPORT control queues (virtio 1.2, 5.3.6.2), used here for one port only: they are how the
 * device learns that the guest is ready for input. Linux adds a port by filling its receive queue first
 * and registering it afterwards, and drops input that arrives in between; so input flows only once the
 * driver says PORT_OPEN, at the end of this exchange:
 *
 * <pre>
 *   driver: DEVICE_READY         device: DEVICE_ADD port 0
 *   driver: PORT_READY port 0    device: CONSOLE_PORT port 0, PORT_OPEN port 0 (the host side is open)
 *   driver: PORT_OPEN port 0     (the port is Linux's hvc0 now)
 * </pre>
 *
 * Messages for the driver wait until it provides control buffers. Used under the console's lock; what
 * the driver is to hear (interrupts, the receiver's news) is returned to be sent after it.
 */
final class ConsoleControl {
    static final int DEVICE_READY = 0;
    static final int DEVICE_ADD = 1;
    static final int PORT_READY = 3;
    static final int CONSOLE_PORT = 4;
    static final int PORT_OPEN = 6;
    /** struct virtio_console_control: le32 id, le16 event, le16 value. */
    static final int MESSAGE_BYTES = 8;
    /**
     * Messages waiting for the driver's receive buffers. A handshake needs three; a driver that repeats
     * DEVICE_READY or PORT_READY without giving buffers must not grow the queue without end.
     */
    static final int MAX_WAITING = 16;
    /** The one port this device has. */
    static final int PORT = 0;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One control message, either way. */
    record Message(int id, int event, int value) {}

    /** Where the driver's PORT_OPEN goes; returns what to tell the driver, unsent. */
    interface PortListener {
        Signal guestOpened(boolean open);
    }

    private final PortListener listener;
    private final ArrayDeque<Message> toDriver = new ArrayDeque<>();
    private final MemorySegment scratch = MemorySegment.ofArray(new byte[MESSAGE_BYTES]);

    ConsoleControl(PortListener listener) {
        this.listener = listener;
    }

    /** Back to the state before DEVICE_READY. */
    void reset() {
        toDriver.clear();
    }

    /** The driver kicked its control transmit queue: handle its messages, then answer. */
    Signal fromDriver(DeviceContext context) throws QueueException {
        Virtqueue queue = context.queue(VirtioConsole.CONTROL_TRANSMIT_QUEUE);
        if (queue == null) {
            return Signal.NONE;
        }
        Signal signal = Signal.NONE;
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            // A message too short to read is ignored, as a device may ignore what it does not understand.
            if (chain.readableBytes() >= MESSAGE_BYTES) {
                try {
                    chain.read(context.dma(), 0, scratch);
                } catch (DmaFault fault) {
                    throw new QueueException("control message: " + fault.getMessage(), fault);
                }
                signal = signal.then(handle(new Message(scratch.get(INT, 0), scratch.get(SHORT, 4) & 0xffff,
                        scratch.get(SHORT, 6) & 0xffff)));
            }
            queue.addUsed(chain.head(), 0);
        }
        if (queue.needsInterrupt()) {
            signal = signal.then(Signal.usedBuffers(context, VirtioConsole.CONTROL_TRANSMIT_QUEUE));
        }
        return signal.then(toDriver(context));
    }

    private Signal handle(Message message) {
        switch (message.event()) {
            case DEVICE_READY -> {
                if (message.value() == 1) {
                    queue(new Message(PORT, DEVICE_ADD, 1));
                }
            }
            case PORT_READY -> {
                if (message.id() == PORT && message.value() == 1) {
                    queue(new Message(PORT, CONSOLE_PORT, 1));
                    queue(new Message(PORT, PORT_OPEN, 1));
                }
            }
            case PORT_OPEN -> {
                if (message.id() == PORT) {
                    return listener.guestOpened(message.value() != 0);
                }
            }
            default -> { } // PORT_NAME, RESIZE and the rest are the device's to send, or unknown
        }
        return Signal.NONE;
    }

    private void queue(Message message) {
        if (toDriver.size() >= MAX_WAITING) {
            GuestLog.warn("virtio-console.control-overflow", "virtio-console: the driver repeats control messages without "
                    + "taking the answers; " + MAX_WAITING + " are waiting, this one is dropped");
            return;
        }
        toDriver.add(message);
    }

    /** Messages waiting for receive buffers (at most {@link #MAX_WAITING}). */
    int waiting() {
        return toDriver.size();
    }

    /** Sends waiting messages into the driver's control receive buffers, as far as there are buffers. */
    Signal toDriver(DeviceContext context) throws QueueException {
        Virtqueue queue = context.queue(VirtioConsole.CONTROL_RECEIVE_QUEUE);
        if (queue == null || toDriver.isEmpty()) {
            return Signal.NONE;
        }
        DescriptorChain chain;
        while (!toDriver.isEmpty() && (chain = queue.pop()) != null) {
            if (chain.writableBytes() < MESSAGE_BYTES) {
                throw new QueueException("control receive buffer of " + chain.writableBytes() + " bytes cannot hold a message");
            }
            Message message = toDriver.poll();
            scratch.set(INT, 0, message.id());
            scratch.set(SHORT, 4, (short) message.event());
            scratch.set(SHORT, 6, (short) message.value());
            try {
                chain.write(context.dma(), 0, scratch);
            } catch (DmaFault fault) {
                throw new QueueException("control receive buffer: " + fault.getMessage(), fault);
            }
            queue.addUsed(chain.head(), MESSAGE_BYTES);
        }
        return queue.needsInterrupt() ? Signal.usedBuffers(context, VirtioConsole.CONTROL_RECEIVE_QUEUE) : Signal.NONE;
    }

    /** The answers still waiting for the driver's buffers: the handshake resumes where it was. */
    void saveState(StateWriter out) {
        out.putInt("waiting", toDriver.size());
        for (Message message : toDriver) {
            out.append("messages").putInt("id", message.id()).putInt("event", message.event()).putInt("value", message.value());
        }
    }

    /** Only messages this device sends, for its one port, can be waiting. */
    void restoreState(StateReader in) throws SnapshotException {
        int waiting = in.getInt("waiting", 0, MAX_WAITING);
        List<Message> messages = new ArrayList<>();
        if (waiting > 0) {
            List<StateReader> entries = in.list("messages", MAX_WAITING);
            if (entries.size() != waiting) {
                throw new SnapshotException("snapshot field " + in.path() + ".messages has " + entries.size()
                        + " entries, but waiting says " + waiting);
            }
            for (StateReader entry : entries) {
                messages.add(readMessage(entry));
            }
        }
        toDriver.clear();
        toDriver.addAll(messages);
    }

    private static Message readMessage(StateReader in) throws SnapshotException {
        int id = in.getInt("id", PORT, PORT);
        int event = in.getInt("event");
        if (event != DEVICE_ADD && event != CONSOLE_PORT && event != PORT_OPEN) {
            throw new SnapshotException("snapshot field " + in.path() + ".event is " + event + ", not a message this device sends");
        }
        return new Message(id, event, in.getInt("value", 0, 0xffff));
    }
}
