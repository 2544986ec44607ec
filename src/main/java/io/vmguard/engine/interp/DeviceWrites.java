package io.vmguard.engine.interp;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongConsumer;

/**
 * Frames that something other than a vCPU wrote (a device's DMA, the VMM), waiting for the vCPUs to drop
 * what they decoded from them. Any thread marks; every vCPU drains before each block, into the code cache the
 * vCPUs share (so whichever drains drops the frame's code for all), and a block runs stale code only if it
 * started before the write was marked (as a CPU may run code a device is overwriting).
 * A frame bitmap, a summary bit per 64-frame word so a drain skips what nobody wrote, and a volatile flag: the
 * vCPU's look costs one volatile load while nothing is pending.
 *
 * <p>Writes under way are counted too, per stripe of frames (frame mod {@link #STRIPES}; a stripe shared with
 * another frame only makes the vCPU wait a little longer): code approved and decoded while a write to its frame
 * was under way may not be what was approved, so the vCPU does not keep it ({@code InterpVcpu#gatedFetch}).
 */
final class DeviceWrites {
    private final long frames;
    private final AtomicLongArray written;
    private final AtomicLongArray summary;
    private volatile boolean pending;
    /** A vCPU is dropping marked frames' code: the others wait for it (drain is synchronized) before their block. */
    private volatile boolean draining;
    static final int STRIPES = 4096;
    private final AtomicIntegerArray underWay = new AtomicIntegerArray(STRIPES);

    private final Runnable marked;

    /** @param marked told after frames are marked (the VM flags every vCPU's doorbell, their compiled loops' one look) */
    DeviceWrites(long physicalEnd, Runnable marked) {
        this.marked = marked;
        this.frames = (physicalEnd + 4095) >>> 12;
        long words = (frames + 63) >>> 6;
        this.written = new AtomicLongArray(Math.toIntExact(words));
        this.summary = new AtomicLongArray(Math.toIntExact((words + 63) >>> 6));
    }

    /** A write of {@code length} bytes at {@code address} starts; {@link #end} with the same range follows. */
    void begin(long address, long length) {
        count(address, length, 1);
    }

    /** The write {@link #begin} announced is done: its frames are marked, then it stops counting as under way. */
    void end(long address, long length) {
        mark(address, length);
        count(address, length, -1);
    }

    /** Whether a write to the frame of {@code physical} (or to a frame of its stripe) is under way. */
    boolean underWay(long physical) {
        return underWay.get((int) ((physical >>> 12) & (STRIPES - 1))) > 0;
    }

    private void count(long address, long length, int delta) {
        if (length <= 0 || address < 0 || address + length < address) {
            return;
        }
        long first = address >>> 12;
        long frames = Math.min(((address + length - 1) >>> 12) - first + 1, STRIPES); // each stripe once
        for (long i = 0; i < frames; i++) {
            underWay.getAndAdd((int) ((first + i) & (STRIPES - 1)), delta);
        }
    }

    /** {@code length} bytes at {@code address} were written; beyond RAM's end nothing is kept. */
    private void mark(long address, long length) {
        if (length <= 0 || address < 0) {
            return;
        }
        long first = address >>> 12;
        long last = Math.min((address + length - 1) >>> 12, frames - 1);
        if (address + length < address || first > last) {
            return;
        }
        for (long frame = first; frame <= last; ) {
            int word = (int) (frame >>> 6);
            long end = Math.min(last, ((long) word << 6) + 63);
            long bits = (-1L >>> (63 - (end - frame))) << frame; // frames frame..end of this word (shift is mod 64)
            written.getAndAccumulate(word, bits, DeviceWrites::or);
            summary.getAndAccumulate(word >>> 6, 1L << word, DeviceWrites::or);
            frame = end + 1;
        }
        // After the bits: a drain that sees the flag sees them.
        pending = true;
        marked.run();
    }

    private static long or(long a, long b) {
        return a | b;
    }

    /**
     * Whether marked frames wait, or another vCPU is dropping them right now: a vCPU that sees either drains
     * before its next block, and so never starts a block from a marked frame another vCPU has not dropped yet.
     */
    boolean pending() {
        return pending || draining;
    }

    /** Hands each marked frame's address to {@code dropped} and forgets it; one vCPU at a time. */
    synchronized void drain(LongConsumer dropped) {
        draining = true; // before the flag is cleared: a vCPU looking meanwhile sees one or the other
        try {
            drainMarks(dropped);
        } finally {
            draining = false;
        }
    }

    private void drainMarks(LongConsumer dropped) {
        // Before the bits: a mark racing with this drain sets the flag again, and the next drain takes it.
        pending = false;
        for (int group = 0; group < summary.length(); group++) {
            if (summary.get(group) == 0) {
                continue;
            }
            long words = summary.getAndSet(group, 0);
            while (words != 0) {
                int word = (group << 6) + Long.numberOfTrailingZeros(words);
                words &= words - 1;
                long bits = written.getAndSet(word, 0);
                while (bits != 0) {
                    long frame = ((long) word << 6) + Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    dropped.accept(frame << 12);
                }
            }
        }
    }
}
