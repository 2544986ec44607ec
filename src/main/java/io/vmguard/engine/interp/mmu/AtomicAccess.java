package io.vmguard.engine.interp.mmu;

import io.vmguard.engine.interp.cpu.CpuState;
import java.util.concurrent.locks.ReentrantLock;

/**
 * LOCK-prefixed instructions and XCHG with memory, made atomic across vCPUs on their own threads: the
 * instruction runs as usual, but its read of the destination is one host atomic load that is remembered, and
 * its write is held back and then made with a host compare-and-set against what was read. If another vCPU
 * changed the destination in between, nothing of the instruction is kept (registers and flags are put back)
 * and it runs again. So a locked read-modify-write is atomic against every other access, plain stores
 * included, which Linux relies on (a spinlock released with a plain store while another CPU's locked
 * read-modify-write of the same word is under way).
 *
 * <p>Bytes, words and unaligned operands within one aligned 8-byte word are done on that word. What cannot be
 * one host atomic (an operand across an 8-byte boundary or a page, device memory, CMPXCHG16B's 16 bytes) runs
 * holding the VM's {@link BusLock}, as a split lock takes the bus: atomic against every other locked
 * instruction, though not against another vCPU's plain store to the same bytes. CMPXCHG16B does its halves as
 * two compare-and-sets under the lock and undoes the first if the second fails.
 *
 * <p>With one vCPU nothing can intervene, and locked instructions run as plain ones.
 */
public final class AtomicAccess {
    /** The VM's bus lock, and whether the VM has more than one vCPU (until then nothing here is needed). */
    public static final class BusLock {
        private final ReentrantLock lock = new ReentrantLock();
        private volatile boolean shared;

        /** A second vCPU exists from now on. */
        public void shared() {
            shared = true;
        }

        public boolean isShared() {
            return shared;
        }
    }

    /** Unwinds an instruction whose destination cannot be done with one host atomic: it runs under the bus lock. */
    private static final class NeedsBusLock extends RuntimeException {
        static final NeedsBusLock INSTANCE = new NeedsBusLock();

        private NeedsBusLock() {
            super(null, null, false, false);
        }
    }

    private static final int MAX_OPERANDS = 2;

    private final CpuState cpu;
    private final Mmu mmu;
    private final BusLock busLock;
    // The operands of the instruction under way: linear address, physical address, size, value read, value to write.
    private final long[] linear = new long[MAX_OPERANDS];
    private final long[] physical = new long[MAX_OPERANDS];
    private final int[] sizes = new int[MAX_OPERANDS];
    private final long[] read = new long[MAX_OPERANDS];
    private final long[] written = new long[MAX_OPERANDS];
    private final boolean[] writes = new boolean[MAX_OPERANDS];
    private int operands;
    private boolean active;
    // What the instruction may change besides memory, put back when it must run again.
    private final long[] savedGpr = new long[16];
    private long savedRip;
    private long savedRflags;
    private int savedCcOp;
    private int savedCcSize;
    private long savedCcResult;
    private long savedCcSrc;
    private long savedCcCarryIn;
    private long retries;

    public AtomicAccess(CpuState cpu, Mmu mmu, BusLock busLock) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.busLock = busLock;
    }

    /** Whether locked instructions need this at all (more than one vCPU). */
    public boolean needed() {
        return busLock.isShared();
    }

    /** Whether a read or write of the executor belongs to a locked instruction under way. */
    public boolean active() {
        return active;
    }

    /**
     * Runs {@code instruction} (the executor's plain execution of one locked instruction) atomically, again
     * as often as another vCPU changes its destination between its read and its write.
     */
    public void run(Runnable instruction) {
        save();
        while (true) {
            operands = 0;
            active = true;
            boolean done;
            try {
                instruction.run();
                done = commit();
            } catch (NeedsBusLock split) {
                active = false;
                restore();
                runUnderBusLock(instruction);
                return;
            } finally {
                active = false;
            }
            if (done) {
                return;
            }
            retries++;
            restore();
            Thread.onSpinWait();
        }
    }

    private void runUnderBusLock(Runnable instruction) {
        busLock.lock.lock();
        try {
            instruction.run();
        } finally {
            busLock.lock.unlock();
        }
    }

    /** The destination's read: one atomic load, remembered for the write. */
    public long read(long address, int size) {
        if (operands == MAX_OPERANDS) {
            throw NeedsBusLock.INSTANCE;
        }
        long target = mmu.atomicTarget(address, size);
        if (target < 0) {
            throw NeedsBusLock.INSTANCE;
        }
        int i = operands++;
        linear[i] = address;
        physical[i] = target;
        sizes[i] = size;
        read[i] = mmu.atomicRead(target, size);
        writes[i] = false;
        return read[i];
    }

    /** The destination's write, held back for {@link #commit}; it must be to an operand the instruction read. */
    public void write(long address, int size, long value) {
        for (int i = 0; i < operands; i++) {
            if (linear[i] == address && sizes[i] == size) {
                written[i] = value;
                writes[i] = true;
                return;
            }
        }
        throw NeedsBusLock.INSTANCE;
    }

    /** Makes the held-back writes if the operands still hold what was read; false (nothing written) otherwise. */
    private boolean commit() {
        return switch (operands) {
            case 0 -> true;
            case 1 -> !writes[0] || mmu.atomicCompareAndSet(physical[0], sizes[0], read[0], written[0]);
            default -> commitPair();
        };
    }

    /** CMPXCHG8B/16B: two halves, under the bus lock; the first is undone if the second changed. */
    private boolean commitPair() {
        busLock.lock.lock();
        try {
            if (!mmu.atomicCompareAndSet(physical[0], sizes[0], read[0], writes[0] ? written[0] : read[0])) {
                return false;
            }
            if (!mmu.atomicCompareAndSet(physical[1], sizes[1], read[1], writes[1] ? written[1] : read[1])) {
                mmu.atomicCompareAndSet(physical[0], sizes[0], writes[0] ? written[0] : read[0], read[0]);
                return false;
            }
            return true;
        } finally {
            busLock.lock.unlock();
        }
    }

    private void save() {
        System.arraycopy(cpu.gpr, 0, savedGpr, 0, 16);
        savedRip = cpu.rip;
        savedRflags = cpu.rflags;
        savedCcOp = cpu.ccOp;
        savedCcSize = cpu.ccSize;
        savedCcResult = cpu.ccResult;
        savedCcSrc = cpu.ccSrc;
        savedCcCarryIn = cpu.ccCarryIn;
    }

    private void restore() {
        System.arraycopy(savedGpr, 0, cpu.gpr, 0, 16);
        cpu.rip = savedRip;
        cpu.rflags = savedRflags;
        cpu.ccOp = savedCcOp;
        cpu.ccSize = savedCcSize;
        cpu.ccResult = savedCcResult;
        cpu.ccSrc = savedCcSrc;
        cpu.ccCarryIn = savedCcCarryIn;
    }

    /** How often an instruction ran again because another vCPU changed its destination (statistics, tests). */
    long retries() {
        return retries;
    }
}
