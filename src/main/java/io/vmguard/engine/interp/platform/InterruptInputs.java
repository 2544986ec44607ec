package io.vmguard.engine.interp.platform;

import io.vmguard.engine.MsiMessage;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The 24 global system interrupt inputs as devices drive them, and the message-signalled interrupts
 * devices send, from any thread. The interrupt controllers themselves belong to the vCPU thread; this is
 * the hand-over between the two.
 *
 * <p>One {@link AtomicLong} holds every line's level (bits 0-23), whether it rose since the vCPU last
 * looked (bits 32-55) and whether messages wait (bit 63), so the vCPU's check stays one volatile read.
 * Remembering rises means a {@code pulse()} (set true, set false) from a device thread is never lost
 * between two looks, which an edge-triggered PIC or I/O APIC input needs.
 *
 * <p>Waiting messages are a set: the same message twice before the vCPU looks raises the same IRR bit
 * twice, which is once, so coalescing them is what the APIC would do anyway, and it bounds the set.
 */
public final class InterruptInputs implements Snapshottable {
    public static final int COUNT = 24;
    private static final long LEVELS = (1L << COUNT) - 1;
    private static final long MESSAGES_WAITING = 1L << 63;
    private static final long WINDOW_OFFSET = MsiMessage.INTERRUPT_WINDOW_SIZE - 1;
    /**
     * Waiting messages a snapshot may hold. The set coalesces, so it holds one entry per distinct
     * (address, data) a device sent between two looks of the vCPU: a handful in practice.
     */
    static final int MAX_SAVED_MESSAGES = 4096;

    /** Receives the line changes, in an order that keeps every edge. */
    @FunctionalInterface
    interface Sink {
        void set(int gsi, boolean level);
    }

    /** Receives the messages, each an address in the interrupt window and its data. */
    @FunctionalInterface
    interface MessageSink {
        void message(long address, int data);
    }

    private final AtomicLong state = new AtomicLong();
    /** Waiting messages: the address's offset in the interrupt window in bits 51:32, the data in 31:0. */
    private final Set<Long> messages = ConcurrentHashMap.newKeySet();
    private final Runnable wake;
    /** vCPU thread only: the levels last handed to the controllers. */
    private long applied;

    /** {@code wake} is run (on the device's thread) after every change, to get the vCPU's attention. */
    public InterruptInputs(Runnable wake) {
        this.wake = wake;
    }

    /** Drives line {@code gsi}; any thread. */
    public void set(int gsi, boolean asserted) {
        if (gsi < 0 || gsi >= COUNT) {
            throw new IllegalArgumentException("no interrupt line " + gsi + " (0-" + (COUNT - 1) + ")");
        }
        long bit = 1L << gsi;
        long current;
        long next;
        do {
            current = state.get();
            if (asserted) {
                next = (current & bit) != 0 ? current : current | bit | (bit << 32);
            } else {
                next = current & ~bit;
            }
        } while (next != current && !state.compareAndSet(current, next));
        if (next != current) {
            wake.run();
        }
    }

    /**
     * Sends a message-signalled interrupt; any thread. Only writes into the interrupt window at
     * 0xFEE00000 are interrupts; anything else would be a memory write, which is not ours to do: dropped.
     */
    public void signalMsi(long address, int data) {
        if (!new MsiMessage(address, data).isInterrupt()) {
            return;
        }
        // Into the set first, then the flag: a drain that clears the flag before this add still finds
        // the flag set again afterwards, so no message waits unseen.
        messages.add((address & WINDOW_OFFSET) << 32 | Integer.toUnsignedLong(data));
        state.getAndUpdate(current -> current | MESSAGES_WAITING);
        wake.run();
    }

    /** Whether a change waits to be drained (cheap: one volatile read). */
    boolean changed() {
        return state.get() != applied;
    }

    /** vCPU thread: hands every line change since the last drain to {@code sink}, then every message. */
    void drain(Sink sink, MessageSink messageSink) {
        long snapshot = state.get();
        if (snapshot == applied) {
            return;
        }
        while (!state.compareAndSet(snapshot, snapshot & LEVELS)) {
            snapshot = state.get();
        }
        long levels = snapshot & LEVELS;
        long rises = (snapshot >>> 32) & LEVELS;
        long touched = (levels ^ applied) | rises;
        while (touched != 0) {
            int gsi = Long.numberOfTrailingZeros(touched);
            touched &= touched - 1;
            long bit = 1L << gsi;
            boolean was = (applied & bit) != 0;
            boolean now = (levels & bit) != 0;
            if ((rises & bit) != 0) {
                // It rose at least once since the last look: make sure the controller sees a rising edge.
                if (was) {
                    sink.set(gsi, false);
                }
                sink.set(gsi, true);
                if (!now) {
                    sink.set(gsi, false);
                }
            } else {
                sink.set(gsi, now);
            }
        }
        applied = levels;
        if ((snapshot & MESSAGES_WAITING) != 0) {
            for (var waiting = messages.iterator(); waiting.hasNext(); ) {
                long message = waiting.next();
                waiting.remove();
                messageSink.message(MsiMessage.INTERRUPT_WINDOW | message >>> 32, (int) message);
            }
        }
    }

    // ---- snapshot ----

    /**
     * The levels devices drive, the rises the vCPU has not seen yet, the levels last handed to the
     * interrupt controllers, and the waiting messages. Device threads may still drive lines while the VM
     * is paused: a change after this is the new process's device's to make again.
     */
    @Override
    public void saveState(StateWriter out) {
        long snapshot = state.get();
        out.putLong("levels", snapshot & LEVELS);
        out.putLong("rises", (snapshot >>> 32) & LEVELS);
        out.putLong("applied", applied);
        out.tree().putArray("messages"); // present when empty too: a reader tells "none" from "missing"
        for (long message : messages) {
            StateWriter entry = out.append("messages");
            entry.putLong("address", MsiMessage.INTERRUPT_WINDOW | message >>> 32);
            entry.putLong("data", message & 0xffff_ffffL);
        }
    }

    /** Restores what {@link #saveState} wrote, into inputs nothing has driven yet; messages must be interrupts. */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        long levels = SnapshotFields.bits(in, "levels", LEVELS);
        long rises = SnapshotFields.bits(in, "rises", LEVELS);
        long appliedLevels = SnapshotFields.bits(in, "applied", LEVELS);
        Set<Long> waiting = new HashSet<>();
        for (StateReader entry : in.list("messages", MAX_SAVED_MESSAGES)) {
            long address = entry.getLong("address");
            int data = (int) entry.getLong("data", 0, 0xffff_ffffL);
            if (!new MsiMessage(address, data).isInterrupt()) {
                throw SnapshotFields.invalid(entry, "address", "0x" + Long.toHexString(address)
                        + ", outside the interrupt window at 0x" + Long.toHexString(MsiMessage.INTERRUPT_WINDOW));
            }
            waiting.add((address & WINDOW_OFFSET) << 32 | Integer.toUnsignedLong(data));
        }
        messages.clear();
        messages.addAll(waiting);
        applied = appliedLevels;
        state.set(levels | rises << 32 | (waiting.isEmpty() ? 0 : MESSAGES_WAITING));
    }
}
