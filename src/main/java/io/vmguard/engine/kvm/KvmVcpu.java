package io.vmguard.engine.kvm;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.OptionalLong;

/**
 * A KVM vCPU: its descriptor and its mmap'd kvm_run.
 *
 * <p>{@link #run()} must be called on a platform thread (the kick signal targets the OS thread; a
 * virtual thread may move between carriers).
 */
public final class KvmVcpu implements Vcpu {
    private final int index;
    private final int fd;
    /** Owns the kvm_run mapping: after close, a stray access throws instead of touching unmapped memory. */
    private final Arena mapping;
    private final MemorySegment run;
    private final VcpuKicker kicker;
    private final KvmStateFormat stateFormat;
    private final MsrWriteTrap msrWrites;

    /** The rest of a string I/O exit still to hand out before re-entering KVM_RUN. */
    private PortIoElements pendingIo;
    /**
     * An I/O or MMIO exit was handed out and KVM_RUN has not been entered since: KVM finishes the
     * instruction (an IN's value into RAX, RIP past it) only on the next KVM_RUN, so until then the
     * registers are not the whole state.
     */
    private volatile boolean ioInFlight;
    /** An exit KVM produced while a snapshot completed the previous one, for the next {@link #run()}. */
    private VcpuExit deferredExit;
    private volatile boolean closed;

    private KvmVcpu(int index, int fd, Arena mapping, MemorySegment run, int kickSignal, KvmStateFormat stateFormat,
                    KvmMonitoring monitoring) {
        this.index = index;
        this.fd = fd;
        this.mapping = mapping;
        this.run = run;
        this.kicker = new VcpuKicker(run, kickSignal);
        this.stateFormat = stateFormat;
        this.msrWrites = new MsrWriteTrap(this, run, monitoring);
    }

    /**
     * Creates vCPU {@code index} of VM {@code vmFd}: maps its kvm_run, gives it the host's supported
     * CPUID with its own APIC id, and resets its FPU.
     */
    static KvmVcpu create(int vmFd, int index, int mmapSize, List<CpuidEntry> supportedCpuid, int kickSignal,
                          KvmStateFormat stateFormat, KvmMonitoring monitoring) throws EngineException {
        int fd;
        try {
            fd = Libc.ioctl(vmFd, KvmIoctls.KVM_CREATE_VCPU, index);
        } catch (NativeException e) {
            throw new EngineException("KVM_CREATE_VCPU " + index + ": " + Libc.strerror(e.errno()), e);
        }
        Arena mapping = Arena.ofShared();
        MemorySegment run;
        try {
            run = Libc.mmap(mmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0)
                    .reinterpret(mmapSize, mapping, Libc::munmap);
        } catch (NativeException e) {
            mapping.close();
            Libc.close(fd);
            throw new EngineException("cannot map kvm_run of vCPU " + index + ": " + e.getMessage(), e);
        }
        KvmVcpu vcpu = new KvmVcpu(index, fd, mapping, run, kickSignal, stateFormat, monitoring);
        try {
            vcpu.setCpuid(VcpuCpuid.forVcpu(supportedCpuid, index));
            vcpu.resetFpu();
        } catch (EngineException e) {
            vcpu.close();
            throw e;
        }
        return vcpu;
    }

    @Override
    public int index() {
        return index;
    }

    /**
     * Runs the guest until an exit the VMM must see. An EINTR that no {@link #requestExit()} asked for
     * (a {@link #bounce()}, or some other signal reached the thread) re-enters KVM_RUN instead of surfacing
     * as Interrupted, and so does a WRMSR the MSR filter trapped, once {@link MsrWriteTrap} has completed it.
     */
    @Override
    public VcpuExit run() {
        try {
            if (closed) {
                return new VcpuExit.InternalError("vCPU " + index + " is closed");
            }
            if (deferredExit != null) {
                VcpuExit exit = deferredExit;
                deferredExit = null;
                return exit;
            }
            if (pendingIo != null) {
                VcpuExit exit = pendingIo.next();
                if (!pendingIo.hasNext()) {
                    pendingIo = null;
                }
                return exit;
            }
            if (Thread.currentThread().isVirtual()) {
                return new VcpuExit.InternalError("vCPU " + index + " must run on a platform thread, not a virtual thread");
            }
            while (true) {
                int errno = enterGuest();
                ioInFlight = false;
                boolean interrupted = errno == Libc.EINTR
                        || (errno == 0 && KvmRunLayout.exitReason(run) == KvmExitReason.INTR);
                if (kicker.leave(interrupted)) {
                    return new VcpuExit.Interrupted();
                }
                if (interrupted) {
                    continue;
                }
                if (errno != 0) {
                    return withRip("KVM_RUN failed: " + Libc.strerror(errno) + " (errno " + errno + ")");
                }
                if (KvmRunLayout.exitReason(run) == KvmExitReason.X86_WRMSR) {
                    String failure = msrWrites.complete();
                    if (failure != null) {
                        return withRip(failure);
                    }
                    continue;
                }
                return decode();
            }
        } catch (RuntimeException e) {
            // Only a bug (or closing the vCPU under a running thread) gets here; run() must not throw.
            return new VcpuExit.InternalError("vCPU " + index + ": " + e);
        }
    }

    /** One KVM_RUN; returns 0 or its errno. The caller reports the return to the kicker. */
    private int enterGuest() {
        kicker.enter();
        try {
            Libc.ioctl(fd, KvmIoctls.KVM_RUN, 0);
            return 0;
        } catch (NativeException e) {
            return e.errno();
        } catch (RuntimeException | Error e) {
            kicker.leave(false);
            throw e;
        }
    }

    private VcpuExit decode() {
        if (KvmRunLayout.exitReason(run) == KvmExitReason.IO) {
            PortIoElements elements = PortIoElements.from(run);
            if (elements == null) {
                return withRip(PortIoElements.describeMalformed(run));
            }
            VcpuExit first = elements.next();
            if (elements.hasNext()) {
                pendingIo = elements;
            }
            ioInFlight = true;
            return first;
        }
        VcpuExit exit = KvmExitDecoder.decode(run);
        if (exit instanceof VcpuExit.MmioRead || exit instanceof VcpuExit.MmioWrite) {
            ioInFlight = true;
        }
        return exit instanceof VcpuExit.InternalError(String reason) ? withRip(reason) : exit;
    }

    /** An InternalError naming where the guest was, when its registers can still be read. */
    private VcpuExit withRip(String reason) {
        try {
            return new VcpuExit.InternalError(reason + String.format(" (vCPU %d at rip 0x%x)", index, registers().rip()));
        } catch (EngineException | RuntimeException e) {
            return new VcpuExit.InternalError(reason + " (vCPU " + index + ")");
        }
    }

    @Override
    public void requestExit() {
        kicker.request();
    }

    /** From any thread: see {@link VcpuKicker#bounce()}. */
    void bounce() {
        kicker.bounce();
    }

    @Override
    public Registers registers() throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment regs = arena.allocate(KvmRegsLayout.LAYOUT);
            ioctl(KvmIoctls.KVM_GET_REGS, regs, "KVM_GET_REGS");
            return KvmRegsLayout.read(regs);
        }
    }

    @Override
    public void setRegisters(Registers registers) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment regs = arena.allocate(KvmRegsLayout.LAYOUT);
            KvmRegsLayout.write(regs, registers);
            ioctl(KvmIoctls.KVM_SET_REGS, regs, "KVM_SET_REGS");
        }
    }

    @Override
    public SpecialRegisters specialRegisters() throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sregs = arena.allocate(KvmSregsLayout.LAYOUT);
            ioctl(KvmIoctls.KVM_GET_SREGS, sregs, "KVM_GET_SREGS");
            return KvmSregsLayout.read(sregs);
        }
    }

    @Override
    public void setSpecialRegisters(SpecialRegisters registers) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sregs = arena.allocate(KvmSregsLayout.LAYOUT);
            KvmSregsLayout.write(sregs, registers);
            ioctl(KvmIoctls.KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
        }
    }

    /** KVM keeps an application processor UNINITIALIZED (waiting for INIT/SIPI) until told otherwise. */
    @Override
    public void startRunning() throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(KvmMpStateLayout.LAYOUT);
            KvmMpStateLayout.write(state, KvmMpStateLayout.RUNNABLE);
            ioctl(KvmIoctls.KVM_SET_MP_STATE, state, "KVM_SET_MP_STATE");
        }
    }

    @Override
    public long readMsr(int msr) throws EngineException {
        return tryReadMsr(msr).orElseThrow(
                () -> new EngineException(String.format("KVM cannot read MSR 0x%x on vCPU %d", msr, index)));
    }

    @Override
    public void writeMsr(int msr, long value) throws EngineException {
        if (!tryWriteMsr(msr, value)) {
            throw new EngineException(String.format("KVM refused to write 0x%x to MSR 0x%x on vCPU %d", value, msr, index));
        }
    }

    /** KVM_GET_MSRS of one MSR; empty when KVM refuses it (it then reports 0 entries processed). */
    OptionalLong tryReadMsr(int msr) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msrs = KvmMsrsLayout.single(arena, msr, 0);
            if (ioctl(KvmIoctls.KVM_GET_MSRS, msrs, "KVM_GET_MSRS") != 1) {
                return OptionalLong.empty();
            }
            return OptionalLong.of(KvmMsrEntryLayout.data(KvmMsrsLayout.firstEntry(msrs)));
        }
    }

    /** KVM_SET_MSRS of one MSR; false when KVM refuses the MSR or the value (what the guest gets #GP for). */
    boolean tryWriteMsr(int msr, long value) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            return ioctl(KvmIoctls.KVM_SET_MSRS, KvmMsrsLayout.single(arena, msr, value), "KVM_SET_MSRS") == 1;
        }
    }

    /**
     * Saves the whole vCPU (see {@link KvmVcpuSnapshot}). When the last exit handed out was port I/O or
     * MMIO and KVM_RUN has not been entered since (a run loop that stopped right after handling it), the
     * instruction is first completed with one KVM_RUN under immediate_exit, which finishes it and runs no
     * further guest code. A string I/O instruction with elements still to hand out cannot be completed
     * here: its remaining elements belong to the VMM's devices.
     */
    @Override
    public void saveState(StateWriter out) throws EngineException {
        if (closed) {
            throw new EngineException("vCPU " + index + " is closed");
        }
        if (pendingIo != null || deferredExit != null) {
            throw new EngineException("vCPU " + index + " is in the middle of an I/O instruction whose next access the VMM"
                    + " has not handled; run it until it returns Interrupted, then save");
        }
        if (ioInFlight) {
            completeIo();
        }
        KvmVcpuSnapshot.save(this, stateFormat, out);
    }

    /** Restores what {@link #saveState} wrote, on a vCPU that has not run; checks every field first. */
    @Override
    public void restoreState(StateReader in) throws EngineException, SnapshotException {
        KvmVcpuSnapshot.restore(this, stateFormat, in);
    }

    private void completeIo() throws EngineException {
        int errno = kicker.withImmediateExit(() -> {
            try {
                Libc.ioctl(fd, KvmIoctls.KVM_RUN, 0);
                return 0;
            } catch (NativeException e) {
                return e.errno();
            }
        });
        ioInFlight = false;
        if (errno == Libc.EINTR) {
            return;
        }
        if (errno != 0) {
            throw new EngineException("KVM_RUN completing the last I/O instruction of vCPU " + index + ": " + Libc.strerror(errno));
        }
        // KVM needs the VMM again before the instruction is done: the second part of an MMIO access that
        // crosses into another region. The next run() hands it out.
        deferredExit = decode();
        throw new EngineException("vCPU " + index + " stopped for another part of an MMIO access; run it until it returns"
                + " Interrupted, then save");
    }

    /** The FPU state as KVM holds it (package-private: the contract has no FPU accessor; tests use it). */
    MemorySegment fpu(Arena arena) throws EngineException {
        MemorySegment fpu = arena.allocate(KvmFpuLayout.LAYOUT);
        ioctl(KvmIoctls.KVM_GET_FPU, fpu, "KVM_GET_FPU");
        return fpu;
    }

    private void setCpuid(List<CpuidEntry> entries) throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            ioctl(KvmIoctls.KVM_SET_CPUID2, KvmCpuid2Layout.allocate(arena, entries), "KVM_SET_CPUID2");
        }
    }

    /**
     * KVM_SET_FPU with the power-on values. Upstream KVM copies everything but MXCSR between kvm_fpu
     * and the guest's FXSAVE area (a long-standing omission); MXCSR is right anyway because KVM
     * initialises a new vCPU's FPU state to the default 0x1f80. We still pass 0x1f80, so a kernel that
     * honours the field gets the same value.
     */
    private void resetFpu() throws EngineException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fpu = arena.allocate(KvmFpuLayout.LAYOUT);
            KvmFpuLayout.writeResetState(fpu);
            ioctl(KvmIoctls.KVM_SET_FPU, fpu, "KVM_SET_FPU");
        }
    }

    /** A vCPU ioctl; KVM's refusal becomes an EngineException naming it. */
    int ioctl(long request, MemorySegment argument, String name) throws EngineException {
        if (closed) {
            throw new EngineException("vCPU " + index + " is closed");
        }
        try {
            return Libc.ioctl(fd, request, argument);
        } catch (NativeException e) {
            throw new EngineException(name + " on vCPU " + index + ": " + Libc.strerror(e.errno()), e);
        }
    }

    /** Unmaps kvm_run and closes the vCPU; call it once no thread is in {@link #run()}. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        kicker.close();
        pendingIo = null;
        deferredExit = null;
        mapping.close();
        Libc.close(fd);
    }
}
