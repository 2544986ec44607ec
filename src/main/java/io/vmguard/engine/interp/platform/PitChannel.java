package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * One counter of the 8254: modes 0-5, LSB/MSB/word access with the read and write flip-flops, count and
 * status latches. The count is never stepped: it is computed from the VM time at which it was loaded,
 * at {@link #HZ}.
 *
 * <p>Modes 1 and 5 are started by a rising gate, which only channel 2 has (port 0x61); on channels 0 and 1
 * the gate is tied high and those modes never start. As in QEMU and KVM, a low gate does not pause
 * modes 0 and 4. BCD counting is accepted and counts in binary. vCPU thread only.
 */
final class PitChannel {
    static final long HZ = 1_193_182;
    static final long NEVER = Long.MAX_VALUE;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    // Access modes (the control word's RW field) double as the flip-flop states.
    private static final int LSB = 1, MSB = 2, WORD_LOW = 3, WORD_HIGH = 4;

    private int mode;
    private int access = WORD_LOW;
    private boolean bcd;
    /** The counting element's reload value, 1-65536 (a written 0 means 65536). */
    private int count = 0x10000;
    /** False from a control word until a count is written: the counter does nothing meanwhile. */
    private boolean loaded;
    private boolean nullCount = true;
    private long loadNanos;
    private boolean gate;
    private boolean gateTriggered;

    private int readState = WORD_LOW;
    private int writeState = WORD_LOW;
    private int writeLow;
    private int latchedCount;
    private int countLatch; // 0, or the state of the latched count's read-out (LSB, MSB, WORD_LOW)
    private int latchedStatus;
    private boolean statusLatched;

    PitChannel(boolean gate) {
        this.gate = gate;
    }

    // ---- control word ----

    /** A control word for this channel: RW 0 latches the count; otherwise sets mode and access and stops it. */
    void control(int value, long now) {
        int rw = (value >>> 4) & 3;
        if (rw == 0) {
            latchCount(now);
            return;
        }
        access = rw;
        readState = rw;
        writeState = rw;
        mode = (value >>> 1) & 7;
        if (mode > 5) {
            mode -= 4; // 6 and 7 are aliases of 2 and 3
        }
        bcd = (value & 1) != 0;
        loaded = false;
        nullCount = true;
    }

    void latchCount(long now) {
        if (countLatch == 0) {
            latchedCount = current(now);
            countLatch = access;
        }
    }

    void latchStatus(long now) {
        if (!statusLatched) {
            latchedStatus = (out(now) ? 0x80 : 0) | (nullCount ? 0x40 : 0) | (access << 4) | (mode << 1) | (bcd ? 1 : 0);
            statusLatched = true;
        }
    }

    // ---- data port ----

    void write(int value, long now) {
        value &= 0xff;
        switch (writeState) {
            case MSB -> load(value << 8, now);
            case WORD_LOW -> {
                writeLow = value;
                writeState = WORD_HIGH;
            }
            case WORD_HIGH -> {
                load(writeLow | (value << 8), now);
                writeState = WORD_LOW;
            }
            default -> load(value, now);
        }
    }

    int read(long now) {
        if (statusLatched) {
            statusLatched = false;
            return latchedStatus;
        }
        if (countLatch != 0) {
            return switch (countLatch) {
                case LSB -> { countLatch = 0; yield latchedCount & 0xff; }
                case MSB -> { countLatch = 0; yield (latchedCount >>> 8) & 0xff; }
                default -> { countLatch = MSB; yield latchedCount & 0xff; } // word: low byte, then high
            };
        }
        int value = current(now);
        return switch (readState) {
            case MSB -> (value >>> 8) & 0xff;
            case WORD_LOW -> { readState = WORD_HIGH; yield value & 0xff; }
            case WORD_HIGH -> { readState = WORD_LOW; yield (value >>> 8) & 0xff; }
            default -> value & 0xff;
        };
    }

    private void load(int value, long now) {
        count = value == 0 ? 0x10000 : value;
        loadNanos = now;
        loaded = true;
        nullCount = false;
        gateTriggered = false;
    }

    // ---- gate (channel 2: port 0x61 bit 0) ----

    void setGate(boolean high, long now) {
        if (high && !gate && loaded && mode != 0 && mode != 4) {
            // A rising gate starts modes 1 and 5 and restarts 2 and 3.
            loadNanos = now;
            gateTriggered = true;
        }
        gate = high;
    }

    boolean gate() {
        return gate;
    }

    // ---- time ----

    /** Input clock ticks from the load to {@code now}. */
    private long ticks(long now) {
        long elapsed = Math.max(0, now - loadNanos);
        return elapsed / NANOS_PER_SECOND * HZ + elapsed % NANOS_PER_SECOND * HZ / NANOS_PER_SECOND;
    }

    /** The VM time at which {@code ticks} input ticks have passed since the load (rounded up). */
    private long nanosAfter(long ticks) {
        return loadNanos + ticks / HZ * NANOS_PER_SECOND + (ticks % HZ * NANOS_PER_SECOND + HZ - 1) / HZ;
    }

    private boolean running() {
        return loaded && (mode != 1 && mode != 5 || gateTriggered);
    }

    /** The counting element as a read sees it. */
    int current(long now) {
        if (!running()) {
            return count & 0xffff;
        }
        long d = ticks(now);
        long value = switch (mode) {
            case 2 -> count - d % count;
            case 3 -> count - (2 * d) % count; // square wave: counts down by two
            default -> (count - d) & 0xffff; // 0, 1, 4, 5 wrap around after the terminal count
        };
        return (int) value & 0xffff;
    }

    /** The OUT pin. */
    boolean out(long now) {
        if (!running()) {
            return mode != 0; // after a control word OUT is low in mode 0, high in the others
        }
        long d = ticks(now);
        return switch (mode) {
            case 0, 1 -> d >= count;                      // high at the terminal count
            case 2 -> d % count != count - 1;             // low for the last tick of each period
            case 3 -> d % count < (count + 1) / 2;        // high for the first half of each period
            default -> d != count;                        // 4, 5: a one-tick low strobe at terminal count
        };
    }

    /**
     * The VM time of the first interrupt-worthy OUT edge after {@code now}, or {@link #NEVER}: the terminal
     * count in modes 0 and 4 (once), the start of every period in modes 2 and 3.
     */
    long nextEdge(long now) {
        if (!loaded || mode == 1 || mode == 5) {
            return NEVER;
        }
        long d = ticks(now);
        long edge;
        if (mode == 2 || mode == 3) {
            edge = (d / count + 1) * count;
        } else if (d < count) {
            edge = count;
        } else {
            return NEVER;
        }
        return Math.max(nanosAfter(edge), now + 1);
    }

    // ---- snapshot ----

    /**
     * The control word's settings, the count and when it was loaded (relative to {@code now}), the gate,
     * the read and write flip-flops, and the latches.
     */
    void saveState(StateWriter out, long now) {
        out.putLong("mode", mode);
        out.putLong("access", access);
        out.putBoolean("bcd", bcd);
        out.putLong("count", count);
        out.putBoolean("loaded", loaded);
        out.putBoolean("null_count", nullCount);
        SnapshotFields.putSince(out, "loaded_ago_nanos", loadNanos, now);
        out.putBoolean("gate", gate);
        out.putBoolean("gate_triggered", gateTriggered);
        out.putLong("read_state", readState);
        out.putLong("write_state", writeState);
        out.putLong("write_low", writeLow);
        out.putLong("latched_count", latchedCount);
        out.putLong("count_latch", countLatch);
        out.putLong("latched_status", latchedStatus);
        out.putBoolean("status_latched", statusLatched);
    }

    /** Restores what {@link #saveState} wrote; the count is 1-65536 (the arithmetic divides by it). */
    void restoreState(StateReader in, long now) throws SnapshotException {
        int newMode = in.getInt("mode", 0, 5);
        int newAccess = in.getInt("access", LSB, WORD_LOW);
        boolean newBcd = in.getBoolean("bcd");
        int newCount = in.getInt("count", 1, 0x10000);
        boolean newLoaded = in.getBoolean("loaded");
        boolean newNullCount = in.getBoolean("null_count");
        long newLoadNanos = SnapshotFields.getSince(in, "loaded_ago_nanos", now);
        boolean newGate = in.getBoolean("gate");
        boolean newGateTriggered = in.getBoolean("gate_triggered");
        int newReadState = in.getInt("read_state", LSB, WORD_HIGH);
        int newWriteState = in.getInt("write_state", LSB, WORD_HIGH);
        int newWriteLow = in.getInt("write_low", 0, 0xff);
        int newLatchedCount = in.getInt("latched_count", 0, 0xffff);
        int newCountLatch = in.getInt("count_latch", 0, WORD_LOW);
        int newLatchedStatus = in.getInt("latched_status", 0, 0xff);
        boolean newStatusLatched = in.getBoolean("status_latched");
        mode = newMode;
        access = newAccess;
        bcd = newBcd;
        count = newCount;
        loaded = newLoaded;
        nullCount = newNullCount;
        loadNanos = newLoadNanos;
        gate = newGate;
        gateTriggered = newGateTriggered;
        readState = newReadState;
        writeState = newWriteState;
        writeLow = newWriteLow;
        latchedCount = newLatchedCount;
        countLatch = newCountLatch;
        latchedStatus = newLatchedStatus;
        statusLatched = newStatusLatched;
    }
}
