package io.vmguard.engine.interp;

/**
 * The device reads one instruction has made so far, with the VMM's answers, in the order it made them.
 *
 * <p>The interpreter stops for the VMM at an MMIO read as a KVM vCPU does, and runs the instruction again
 * from the start once the answer is in; it changed no state before then. An instruction may need several
 * reads (a load across a page or a device boundary, a 16-byte SSE load, FLD m80, CMPXCHG16B, a page walk
 * through device memory): each run replays the answers already given, in order, and stops at the first
 * read not answered yet. A device read can have side effects (read-to-clear registers, FIFOs), so no
 * read is ever made twice. KVM's own instruction emulator keeps the same kind of per-instruction read
 * cache for the same reason.
 *
 * <p>Replay follows the instruction's path only if the path is the same each time. It is, since every
 * input is replayed, except for reads the engine answers itself (the local APIC, whose timer count
 * moves): a run that asks for a different address than the one recorded at that point drops the rest
 * of the record and asks anew. Every answer and every restart is bounded: an instruction that needs more
 * than {@link #MAX_READS} reads, or restarts more than {@link #MAX_RESTARTS} times, makes no forward
 * progress, and the vCPU stops the VM instead of spinning.
 */
final class MmioReplay {
    /** Enough for FXRSTOR from device memory (64 eight-byte reads) plus page walks through it. */
    static final int MAX_READS = 128;
    static final int MAX_RESTARTS = 2 * MAX_READS;

    private final long[] addresses = new long[MAX_READS];
    private final int[] sizes = new int[MAX_READS];
    private final long[] values = new long[MAX_READS];
    private int recorded;
    private int cursor;
    private int restarts;

    /** Whether an instruction is half done: answers recorded that its next run must consume. */
    boolean active() {
        return recorded != 0 || restarts != 0;
    }

    /**
     * Whether the instruction's next read, of {@code size} bytes at {@code address}, was answered already
     * ({@link #consume} then gives the answer); false when it must stop for the VMM.
     */
    boolean next(long address, int size) {
        if (cursor < recorded && addresses[cursor] == address && sizes[cursor] == size) {
            return true;
        }
        recorded = cursor; // a different path from here: what was recorded after this point is stale
        return false;
    }

    /** The value of the read {@link #next} just found; moves on to the following read. */
    long consume() {
        return values[cursor++];
    }

    /** Whether another answer fits; false means the instruction cannot complete. */
    boolean hasRoom() {
        return recorded < MAX_READS;
    }

    /** Records the VMM's answer to the read that stopped the instruction; the instruction then runs again. */
    void record(long address, int size, long value) {
        addresses[recorded] = address;
        sizes[recorded] = size;
        values[recorded] = value;
        recorded++;
    }

    /**
     * The instruction is about to run again from the start; false when it has done so too often (no
     * forward progress).
     */
    boolean restart() {
        cursor = 0;
        return ++restarts <= MAX_RESTARTS;
    }

    /** The instruction completed or faulted: its reads are done with. */
    void clear() {
        recorded = 0;
        cursor = 0;
        restarts = 0;
    }

    int restarts() {
        return restarts;
    }
}
