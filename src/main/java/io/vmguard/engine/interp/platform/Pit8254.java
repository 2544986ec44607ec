package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.List;

/**
 * The 8254 programmable interval timer at ports 0x40-0x43, clocked at 1.193182 MHz from VM time, and the
 * PC's port 0x61 (system control port B) that holds channel 2's gate (bit 0) and speaker enable (bit 1)
 * and shows channel 2's OUT (bit 5) and the refresh toggle (bit 4): what Linux's PIT calibration loops use.
 *
 * <p>Channel 0's OUT drives IRQ 0: each rising edge (terminal count in modes 0 and 4, every period in
 * modes 2 and 3) becomes one call of the {@code irq0} pulse. Edges are found by {@link #service} from
 * the VM time, so when the vCPU falls behind, missed periods coalesce into one interrupt, as an
 * overloaded host's PIT would; and, as KVM does, a periodic IRQ 0 comes at most every
 * {@link #MIN_IRQ_INTERVAL_NANOS}, so a tiny count cannot bury the interpreter in interrupts. vCPU thread only.
 */
final class Pit8254 {
    static final int CHANNEL0 = 0x40, CONTROL = 0x43, PORT_B = 0x61;
    static final long MIN_IRQ_INTERVAL_NANOS = 100_000;

    private final VmClock clock;
    private final Runnable irq0;
    private final PitChannel[] channels = {new PitChannel(true), new PitChannel(true), new PitChannel(false)};
    private long nextIrq = PitChannel.NEVER;
    private boolean speaker;
    private boolean refresh;

    Pit8254(VmClock clock, Runnable irq0) {
        this.clock = clock;
        this.irq0 = irq0;
    }

    static boolean claims(int port) {
        return (port >= CHANNEL0 && port <= CONTROL) || port == PORT_B;
    }

    int read(int port) {
        long now = clock.nanos();
        if (port == PORT_B) {
            refresh = !refresh; // toggles on every read, like QEMU's dummy refresh clock
            PitChannel two = channels[2];
            return (two.gate() ? 0x01 : 0) | (speaker ? 0x02 : 0) | (refresh ? 0x10 : 0) | (two.out(now) ? 0x20 : 0);
        }
        if (port == CONTROL) {
            return 0xff; // the control register cannot be read
        }
        return channels[port - CHANNEL0].read(now);
    }

    void write(int port, int value) {
        long now = clock.nanos();
        switch (port) {
            case PORT_B -> {
                channels[2].setGate((value & 0x01) != 0, now);
                speaker = (value & 0x02) != 0;
            }
            case CONTROL -> control(value, now);
            default -> channels[port - CHANNEL0].write(value, now);
        }
        if (port == CHANNEL0 || (port == CONTROL && (value & 0xc0) == 0)) {
            nextIrq = channels[0].nextEdge(now);
        }
    }

    private void control(int value, long now) {
        int select = (value >>> 6) & 3;
        if (select != 3) {
            channels[select].control(value, now);
            return;
        }
        // Read-back command: bit 5 clear latches the counts, bit 4 clear the statuses, of the channels in bits 1-3.
        for (int channel = 0; channel < 3; channel++) {
            if ((value & (2 << channel)) != 0) {
                if ((value & 0x20) == 0) {
                    channels[channel].latchCount(now);
                }
                if ((value & 0x10) == 0) {
                    channels[channel].latchStatus(now);
                }
            }
        }
    }

    /** Pulses IRQ 0 if channel 0's next edge has come; at most once per call (missed edges coalesce). */
    void service(long now) {
        if (now >= nextIrq) {
            long next = channels[0].nextEdge(now);
            nextIrq = next == PitChannel.NEVER ? next : Math.max(next, now + MIN_IRQ_INTERVAL_NANOS);
            irq0.run();
        }
    }

    /** The VM time of the next IRQ 0 edge, or {@link PitChannel#NEVER}. */
    long nextEvent() {
        return nextIrq;
    }

    // ---- snapshot ----

    /** The three channels, the next IRQ 0 edge (relative to {@code now}) and port 0x61. */
    void saveState(StateWriter out, long now) {
        for (PitChannel channel : channels) {
            channel.saveState(out.append("channels"), now);
        }
        SnapshotFields.putUntil(out, "next_irq_in_nanos", nextIrq, now);
        out.putBoolean("speaker", speaker);
        out.putBoolean("refresh", refresh);
    }

    void restoreState(StateReader in, long now) throws SnapshotException {
        List<StateReader> saved = in.list("channels", channels.length);
        if (saved.size() != channels.length) {
            throw SnapshotFields.invalid(in, "channels", "a list of " + saved.size() + ", expected " + channels.length);
        }
        long next = SnapshotFields.getUntil(in, "next_irq_in_nanos", now);
        boolean speakerOn = in.getBoolean("speaker");
        boolean refreshBit = in.getBoolean("refresh");
        for (int i = 0; i < channels.length; i++) {
            channels[i].restoreState(saved.get(i), now);
        }
        nextIrq = next;
        speaker = speakerOn;
        refresh = refreshBit;
    }
}
