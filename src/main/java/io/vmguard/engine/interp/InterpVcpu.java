package io.vmguard.engine.interp;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Decoder;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.execute.Executor;
import io.vmguard.engine.interp.execute.InterruptDelivery;
import io.vmguard.engine.interp.execute.StringOps;
import io.vmguard.engine.interp.execute.SystemOps;
import io.vmguard.engine.interp.mmu.AtomicAccess;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.monitor.InterpMonitoring;
import io.vmguard.engine.interp.monitor.MonitorHooks;
import io.vmguard.engine.monitor.ExecutionVerdict;
import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.interp.platform.Chipset;
import io.vmguard.engine.interp.platform.Doorbell;
import io.vmguard.engine.interp.platform.Platform;
import io.vmguard.engine.interp.platform.VmClock;
import io.vmguard.memory.GuestMemory;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayDeque;

/**
 * One interpreted vCPU: fetch (through the code cache), execute, deliver faults, and stop for the VMM
 * on port I/O and MMIO exactly as a KVM vCPU does, so the run loop cannot tell the engines apart.
 *
 * <p>Port reads and MMIO reads complete when {@link #run()} is called again: an IN finishes then; an
 * instruction that read MMIO runs again from the start and this time receives the value (it changed no
 * state before its read), however many reads it needs ({@link MmioReplay}). MMIO writes are queued and
 * handed out after the instruction completes.
 *
 * <p>The interrupt controllers and timers ({@link Platform}) live inside the engine, as KVM's in-kernel
 * irqchip does: their ports, the local APIC page, the I/O APIC window and their MSRs never become exits.
 * The vCPU runs decoded {@link Block}s; before each block it takes a requested interrupt if RFLAGS.IF
 * allows and no STI/MOV SS shadow covers the next instruction. Blocks are short and end at every
 * instruction that can change whether an interrupt may be taken (CLI, STI, POPF, IRET, ...) or that talks
 * to a device, so an interrupt waits a few instructions at most. Every {@link #CHECK_INTERVAL}
 * instructions, and whenever another thread rings the {@link Doorbell} (a line changed, an exit was
 * requested), it lets the platform take line changes and fire due timers. A HLT with IF set parks the thread until an interrupt, the next timer
 * expiry or {@link #requestExit()}.
 *
 * <p><b>Code executions.</b> Every instruction comes from {@link #fetch}: a cached block, or one decoded now.
 * With code executions armed, decoding asks the listener first unless the frame was approved since its last
 * change, and a write to a frame (by this vCPU, or by a device: {@link DeviceWrites}, drained before each block)
 * drops its blocks and its approval, so the next execution asks again.
 *
 * <p><b>Pausing.</b> After {@link #requestExit()} the run returns {@link VcpuExit.Interrupted} between two
 * instructions, within the block under way, or at once from HLT (the vCPU stays halted). A REP string
 * instruction may be paused between its batches, with RIP on it and RCX, RSI and RDI counting what is
 * done, exactly as an interrupt finds it; an instruction running again with the VMM's MMIO answers is
 * never paused before it completes. There, {@link #saveState} has the vCPU's whole state.
 */
final class InterpVcpu implements Vcpu, Executor.Platform, Mmu.Physical {
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /**
     * Instructions between looks at the clock (timers) and at {@link #exitRequested}: a few tens of
     * microseconds, which bounds how late a timer interrupt can be.
     */
    private static final int CHECK_INTERVAL = 1024;

    private final int index;
    private final CpuState cpu = new CpuState();
    private final Mmu mmu;
    private final Executor executor;
    private final SystemOps system;
    private final InterruptDelivery delivery;
    private final CodeCache code;
    private final Decoder decoder;
    private final StraddlingInstructions straddlers;
    private final BlockBuilder blocks = new BlockBuilder();
    private final UnimplementedLog unimplemented;
    private final Platform platform;
    private final Doorbell doorbell;

    private volatile boolean exitRequested;
    private VcpuExit pendingExit;
    private final ArrayDeque<VcpuExit> pendingWrites = new ArrayDeque<>();
    /**
     * Native, as guest RAM is, and so is every segment the vCPU hands out: the JIT profiles the JDK's
     * segment accessors per access width, not per caller, and a heap segment passing through them would
     * turn every guest memory access into a type check or a deoptimisation.
     */
    private final MemorySegment ioData = Arena.ofAuto().allocate(8, 8);
    private Instruction pendingIn;
    private VcpuExit.MmioRead pendingMmioRead;
    /** The device reads of the instruction under way, replayed when it runs again. */
    private final MmioReplay mmioReplay = new MmioReplay();
    private long instructions;
    /**
     * Set by whatever must be looked at before the block's next instruction runs: an exit or MMIO write
     * for the VMM, a system instruction, a software interrupt, a write to a page holding decoded code.
     */
    private boolean leaveBlock;
    private final InterpMonitoring monitoring;
    private final MonitorHooks monitorHooks;
    /** The monitoring generation this vCPU's write translations were cached under. */
    private int monitoringGeneration;
    /** The code-execution epoch this vCPU's decoded code was approved under ({@link InterpMonitoring#codeEpoch}). */
    private int codeEpoch;
    /** Frames devices (or the VMM) wrote, whose decoded code this vCPU drops before its next block. */
    private final DeviceWrites deviceWrites;
    /** An application processor between INIT (or power-on) and its start-up IPI: it runs nothing. */
    private boolean waitingForStartup;
    /** Whether the VM has other vCPUs (then a halt with interrupts off can still end). */
    private final AtomicAccess.BusLock vm;
    private boolean nmiPending;
    /** From an NMI's delivery to the next IRET (SDM 6.7.1). */
    private boolean nmiBlocked;
    /** The VM's JIT (null when off), and what compiled blocks reach of this vCPU. */
    private final JitBridge jit;
    private final JitRuntime jitRuntime;

    /**
     * @param inputs   the VM's interrupt lines, which this vCPU's platform drains
     * @param doorbell rung by other threads (interrupt lines, {@link #requestExit()}) to get its attention
     */
    InterpVcpu(int index, GuestMemory memory, UnimplementedLog unimplemented, VmClock clock, Chipset chipset,
               Doorbell doorbell, InterpMonitoring monitoring, DeviceWrites deviceWrites, CodeCache code,
               AtomicAccess.BusLock busLock, JitBridge jit) {
        this.index = index;
        this.jit = jit;
        this.deviceWrites = deviceWrites;
        this.monitoring = monitoring;
        this.monitorHooks = new MonitorHooks(index, cpu, monitoring);
        this.unimplemented = unimplemented;
        this.doorbell = doorbell;
        this.code = code;
        this.vm = busLock;
        this.mmu = new Mmu(cpu, memory, this, code.epoch());
        this.executor = new Executor(cpu, mmu, this, new AtomicAccess(cpu, mmu, busLock));
        this.delivery = new InterruptDelivery(cpu, mmu);
        // kvmclock writes take the MMU's physical path, which drops decoded instructions of the pages it writes.
        this.platform = new Platform(clock, chipset, (address, size, value) -> {
            if (!memory.contains(address, size)) {
                return false;
            }
            mmu.physicalWrite(address, size, value);
            return true;
        }, index, doorbell::ring);
        // Application processors wait for INIT and a start-up IPI, as after power-on; the BSP runs.
        this.waitingForStartup = index != 0;
        this.system = new SystemOps(cpu, mmu, executor, new PlatformDevices(), index, monitorHooks);
        this.decoder = new Decoder(mmu::fetch8);
        this.straddlers = new StraddlingInstructions(mmu, code, decoder);
        this.jitRuntime = new JitRuntime(cpu, mmu, executor, this, doorbell, platform);
    }

    /** SystemOps' view of the platform: TSC, CR8 and the device MSRs. */
    private final class PlatformDevices implements SystemOps.Devices {
        @Override
        public long tsc() {
            return platform.tsc();
        }

        @Override
        public void setTsc(long value) {
            platform.setTsc(value);
        }

        @Override
        public int taskPriorityClass() {
            return platform.taskPriorityClass();
        }

        @Override
        public void setTaskPriorityClass(int value) {
            platform.setTaskPriorityClass(value);
        }

        @Override
        public boolean claimsMsr(int index) {
            return Platform.claimsMsr(index);
        }

        @Override
        public long readMsr(int index) {
            return platform.readMsr(index);
        }

        @Override
        public boolean writeMsr(int index, long value) {
            return platform.writeMsr(index, value);
        }
    }

    @Override
    public int index() {
        return index;
    }

    /** Of {@link #instructions}, those that compiled blocks ran (JIT statistics). */
    private long compiledInstructions;

    long compiledInstructions() {
        return compiledInstructions;
    }

    /** Compiled blocks entered straight from another compiled block, without the block loop (JIT statistics). */
    private long chainedEntries;

    long chainedEntries() {
        return chainedEntries;
    }

    /** Instructions executed so far (for benchmarks). */
    long instructions() {
        return instructions;
    }

    /** For run statistics; exact once the run has ended, approximate while the vCPU thread runs. */
    @Override
    public java.util.OptionalLong instructionsExecuted() {
        return java.util.OptionalLong.of(instructions);
    }

    /** RIP as the vCPU thread last wrote it (per instruction, or per block in compiled code); empty while halted. */
    @Override
    public java.util.OptionalLong sampleRip() {
        return cpu.halted ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(cpu.rip);
    }

    @Override
    public VcpuExit run() {
        try {
            if (!completePendingRead()) {
                return noForwardProgress();
            }
            while (true) {
                if (!pendingWrites.isEmpty()) {
                    return pendingWrites.poll();
                }
                // Clear before looking: a ring from now on is seen by the next look, none is lost.
                doorbell.clear();
                if (monitoringGeneration != monitoring.generation()) {
                    // A new plan (its ring brought us here): newly watched frames must not stay writable
                    // through cached translations.
                    monitoringGeneration = monitoring.generation();
                    mmu.flushWrites();
                    if (codeEpoch != monitoring.codeEpoch()) {
                        // Code executions armed afresh: what was decoded so far was never asked about.
                        codeEpoch = monitoring.codeEpoch();
                        code.clear();
                    }
                }
                if (exitRequested) {
                    // Not while an instruction waits to run again with the VMM's MMIO answers: that would stop
                    // between two halves of one instruction, and a snapshot then would lose device reads
                    // already made. It completes in the next block; the bell ends the loop right after.
                    if (!mmioReplay.active()) {
                        exitRequested = false;
                        return new VcpuExit.Interrupted();
                    }
                    doorbell.ring();
                }
                platform.service();
                if (platform.signalsPending()) {
                    takeSignals();
                }
                if (nmiPending) {
                    takeNmi();
                }
                if (waitingForStartup) {
                    VcpuExit exit = awaitStartup();
                    if (exit != null) {
                        return exit;
                    }
                    continue;
                }
                if (cpu.halted) {
                    VcpuExit exit = awaitWakeUp();
                    if (exit != null) {
                        return exit;
                    }
                    continue;
                }
                long checkAt = instructions + CHECK_INTERVAL;
                // Blocks that fault before their first instruction count as one, so the clock is still seen.
                for (int blocks = 0; blocks < CHECK_INTERVAL && instructions < checkAt; blocks++) {
                    if (platform.interruptRequested() && interruptible()) {
                        takeInterrupt();
                    }
                    VcpuExit exit = runBlock();
                    if (exit != null) {
                        return exit;
                    }
                    if (cpu.halted || !pendingWrites.isEmpty() || doorbell.rung()) {
                        break;
                    }
                }
            }
        } catch (InterruptDelivery.TripleFault e) {
            return new VcpuExit.Shutdown(e.getMessage());
        } catch (MmioReadNeeded e) {
            // Only event delivery reads outside an instruction: the guest put its IDT, GDT, TSS or stack in
            // device memory. A CPU would read gates out of a device there and, in practice, triple-fault; the
            // delivery pushed state already, so it cannot be run again like an instruction. A guest reset.
            return new VcpuExit.Shutdown("event delivery reads device memory at 0x" + Long.toHexString(e.address)
                    + " (IDT, GDT, TSS or stack outside RAM) at rip 0x" + Long.toHexString(cpu.rip));
        } catch (RuntimeException e) {
            // An interpreter defect must stop this VM with a message, never escape into the VMM.
            return new VcpuExit.InternalError("interpreter: " + e + " at rip 0x" + Long.toHexString(cpu.rip));
        }
    }

    /**
     * Whether an external interrupt may be taken before the next instruction: IF set, no STI/MOV SS
     * shadow, and no instruction half done (MMIO reads it must run again with the VMM's answers).
     */
    private boolean interruptible() {
        return (cpu.rflags & Flags.IF) != 0 && !cpu.interruptShadow && !mmioReplay.active();
    }

    private void takeInterrupt() {
        int vector = platform.acknowledge();
        if (vector >= 0) {
            delivery.interrupt(vector, false);
        }
    }

    /**
     * INIT, start-up and NMI, as the CPU acts on them between instructions. INIT resets the CPU (KVM's reading:
     * an AP then waits for a start-up IPI, the BSP runs from the reset vector); a start-up IPI starts a waiting
     * AP in real mode at vector * 4 KiB and is ignored otherwise; an NMI is delivered through IDT vector 2.
     */
    private void takeSignals() {
        if (platform.takeInit()) {
            cpu.resetForInit();
            mmu.flush();
            mmioReplay.clear();
            waitingForStartup = index != 0;
        }
        int startup = platform.takeStartup();
        if (startup >= 0 && waitingForStartup) {
            cpu.startupAt(startup);
            mmu.flush();
            waitingForStartup = false;
        }
        if (platform.takeNmi() && !waitingForStartup) {
            nmiPending = true;
        }
    }

    /** An NMI that waits, unless one is being handled (NMIs are blocked from delivery to the next IRET). */
    private void takeNmi() {
        if (nmiPending && !nmiBlocked && !mmioReplay.active()) {
            nmiPending = false;
            nmiBlocked = true;
            cpu.halted = false;
            delivery.interrupt(GuestFault.NMI, false);
        }
    }

    /**
     * Waiting for a start-up IPI: parks until another CPU's IPI (or a request) rings; null once started, an exit
     * when the run must stop meanwhile.
     */
    private VcpuExit awaitStartup() {
        while (true) {
            if (exitRequested) {
                exitRequested = false;
                return new VcpuExit.Interrupted();
            }
            if (Thread.currentThread().isInterrupted()) {
                return new VcpuExit.Interrupted();
            }
            doorbell.await(Long.MAX_VALUE);
            doorbell.clear();
            platform.service();
            if (platform.signalsPending()) {
                takeSignals();
            }
            if (!waitingForStartup) {
                return null;
            }
        }
    }

    /**
     * Halted: takes an interrupt as soon as one is requested (IF set), else parks until something may have
     * changed that (a line, a timer, a request, another CPU's NMI or INIT). Returns null once the halt ended or
     * a signal waits for the run loop; an exit when the run must stop. With IF clear and no other CPU nothing
     * can end the halt: Halt. With other CPUs, one of them may still send an NMI or INIT (Linux parks the CPUs
     * it stops that way).
     */
    private VcpuExit awaitWakeUp() {
        while (true) {
            boolean interruptsOff = (cpu.rflags & Flags.IF) == 0;
            if (interruptsOff && !vm.isShared()) {
                return new VcpuExit.Halt();
            }
            if (platform.signalsPending() || nmiPending && !nmiBlocked) {
                return null; // the run loop takes it
            }
            if (!interruptsOff && platform.interruptRequested()) {
                takeInterrupt();
                return null;
            }
            if (exitRequested) {
                exitRequested = false;
                return new VcpuExit.Interrupted();
            }
            if (Thread.currentThread().isInterrupted()) {
                return new VcpuExit.Interrupted();
            }
            long next = platform.nextEvent();
            doorbell.await(next == Platform.NEVER ? Long.MAX_VALUE : next - platform.clock().nanos());
            doorbell.clear();
            platform.service();
        }
    }

    /**
     * Runs the block at RIP until it ends, RIP leaves it or something needs a look ({@link #leaveBlock});
     * returns an exit when the VMM must act first. Every instruction started counts, as one that faults
     * does too.
     */
    private static final Instruction[] NONE = new Instruction[0];

    /** The instruction of {@code block} at {@code offset} from its start (a compiled block faulted there), or null. */
    private static Instruction instructionAt(Block block, long offset) {
        for (int i = 0; i < block.instructions.length; i++) {
            if ((i == 0 ? 0 : block.ends[i - 1]) == offset) {
                return block.instructions[i];
            }
        }
        return null;
    }

    /**
     * Where the block {@link #fetch} returned was found in the code cache (-1: decoded now, or not cacheable). A
     * compiled block chains only to a successor of the same page, which is then found at the same physical page:
     * no TLB lookup, and exactly the block a fetch would return (the code cache drops a page's blocks on a write).
     */
    private long fetchedPhysical = -1;

    /**
     * Whether a compiled block may go on into its successor's translation: the looks {@link #run}'s block loop takes
     * between two blocks find nothing. No exit or MMIO write is pending, and {@link JitRuntime#mayGoOn} holds: the
     * doorbell, the one attention word (an exit, a line, another CPU, and, flagged by the VM, device-written code and
     * pages that newly hold code, which the run loop takes in before the next block), is quiet, and no interrupt is
     * requested (set by this vCPU's own platform calls, a plain field).
     */
    private boolean mayChain() {
        return !leaveBlock && pendingExit == null && pendingWrites.isEmpty() && jitRuntime.mayGoOn() && !cpu.halted;
    }

    private VcpuExit runBlock() {
        Instruction insn = null;
        Block ranCompiled = null;
        Instruction[] instructionsInterpreted = null;
        // The shadow of the previous instruction has been honoured (see interruptible()); it ends here.
        // Instructions that set it end their block, so it never covers one inside a block.
        boolean shadow = cpu.interruptShadow;
        cpu.interruptShadow = false;
        leaveBlock = false;
        long start = cpu.rip;
        int executed = 0;
        // Instructions of the compiled blocks this one chained through before the block under way (see below).
        int chained = 0;
        if (deviceWrites.pending()) {
            dropDeviceWrittenCode();
        }
        // Guest loads are plain loads of host memory, and none may be hoisted out of the loop of blocks, or a guest
        // spinning on a flag another vCPU sets would never see it: the volatile loads every block makes (the
        // device-write flag above, the code cache's acquiring lookup, the doorbell after the block) keep them in.
        // (An explicit acquire fence here cost a fifth of the interpreter's speed by hindering the JIT.)
        try {
            Block block = fetch(start);
            if (block == null) {
                // A code-execution listener said RETRY: back to the VMM at this boundary, nothing run. An
                // instruction that was waiting to run again with MMIO answers starts over (its reads with it).
                cpu.interruptShadow = shadow;
                mmioReplay.clear();
                exitRequested = false; // this exit is the one a pause asked for
                return new VcpuExit.Interrupted();
            }
            mmu.seeNewCodePages();
            Instruction[] instructions = block.instructions;
            int[] ends = block.ends;
            if (jit != null) {
                CompiledBlock compiled = block.compiled;
                if (compiled == null) {
                    compiled = jit.executed(block, code, fetchedPhysical);
                }
                if (compiled != null) {
                    instructions = NONE;
                    instructionsInterpreted = NONE;
                    long physicalPage = fetchedPhysical & Mmu.PAGE_MASK;
                    boolean chainable = fetchedPhysical >= 0 && block.codeBits == 64;
                    while (true) {
                        ranCompiled = block;
                        jitRuntime.retired = 0;
                        jitRuntime.chain = false;
                        executed = 1; // what a fault before the first retired instruction counts, as below
                        int lastRound = compiled.run(jitRuntime);
                        executed = jitRuntime.retired + lastRound; // read after the run: the rounds it looped
                        ranCompiled = null;
                        // Chaining: a direct exit to the same page goes on in the successor's translation, with the
                        // looks the block loop would take between the two done here (bounded like a looping block).
                        if (!chainable || !jitRuntime.chain || ((cpu.rip ^ start) & Mmu.PAGE_MASK) != 0
                                || chained + executed >= JitRuntime.LOOP_BUDGET || !mayChain()) {
                            break;
                        }
                        Block next = code.get(physicalPage | (cpu.rip & 0xfff));
                        if (next == null || next.codeBits != 64 || (compiled = next.compiled) == null) {
                            break;
                        }
                        chainedEntries++;
                        chained += executed;
                        executed = 0;
                        block = next;
                        start = cpu.rip;
                    }
                }
            }
            for (int i = 0; i < instructions.length; i++) {
                insn = instructions[i];
                executed += insn.count;
                if (!executor.executeHot(insn)) {
                    executor.executeCold(insn);
                }
                if (leaveBlock || cpu.rip != start + ends[i]) {
                    break;
                }
            }
        } catch (MmioReadNeeded needed) {
            // The instruction runs again once answered; what it queued this time it will queue again then.
            pendingWrites.clear();
            if (!mmioReplay.hasRoom()) {
                return noForwardProgress();
            }
            pendingMmioRead = new VcpuExit.MmioRead(needed.address, ioData.asSlice(0, needed.size));
            return pendingMmioRead;
        } catch (GuestFault fault) {
            mmioReplay.clear();
            if (ranCompiled != null) {
                insn = instructionAt(ranCompiled, cpu.rip - start);
            }
            if (fault.vector == GuestFault.UD && insn != null) {
                unimplemented.report(insn, cpu.rip);
            }
            delivery.fault(fault);
        } finally {
            if (ranCompiled != null) {
                executed += jitRuntime.retired; // the rounds a looping block completed before it faulted
                ranCompiled = null;
            }
            instructions += executed + chained;
            if (instructionsInterpreted == NONE) {
                compiledInstructions += executed + chained;
            }
        }
        // An instruction that consumed replayed reads ended the block (leaveBlock): it is complete now.
        if (mmioReplay.active()) {
            mmioReplay.clear();
        }
        VcpuExit exit = pendingExit;
        pendingExit = null;
        return exit;
    }

    /**
     * The block at {@code rip}: cached by physical address, or decoded now; null when a code-execution listener
     * said RETRY. Every instruction the vCPU runs comes from here. While code executions are armed, none runs
     * from a frame the listener has not approved since the frame last changed: a cached block's frame is
     * approved (a write drops its blocks), a block decoded now asks first, and an instruction that cannot be
     * cached asks for each frame it comes from.
     */
    private Block fetch(long rip) {
        // Outside 64-bit mode code is at CS base + EIP; a block decoded for another mode is a miss.
        int bits = cpu.codeBits;
        long linear = bits == 64 ? rip : cpu.codeLinear(rip);
        long physical = mmu.fetchPhysical(linear);
        fetchedPhysical = -1;
        if (physical >= 0) {
            Block cached = code.get(physical);
            if (cached != null && cached.codeBits == bits) {
                fetchedPhysical = physical;
                return cached;
            }
        }
        // Decoding: the only look at the plan (one volatile load while nothing is armed).
        InterpMonitoring.Armed armed = monitoring.armed();
        if (armed != null && armed.codeExecutions()) {
            return gatedFetch(armed, rip, physical);
        }
        if (physical < 0) {
            return Block.single(decoder.decode(linear, bits)); // not RAM: nothing to cache, or to see writes to
        }
        Block straddling = straddlers.find(linear, physical, bits);
        if (straddling != null) {
            return straddling;
        }
        // The look above may have filled the fetch TLB's entry for the next page, never this page's.
        MemorySegment page = mmu.fetchedPage(linear);
        int generation = code.prepare(physical); // marked before the bytes are read: see CodeCache
        Block block = blocks.build(page, linear, bits);
        if (block == null) {
            // The first instruction straddles the page end: decoded through the MMU (its second page may fault),
            // and kept apart from the code cache's pages, checked against both pages at each use.
            return straddlers.decode(linear, physical, generation, bits);
        }
        code.put(physical, block, generation);
        fetchedPhysical = physical;
        return block;
    }

    /**
     * {@link #fetch} with code executions armed: asks about the block's frame unless it is approved, then
     * decodes. A device write that lands while the listener looks or the block is decoded sends it round
     * again, so what is cached was decoded from what was approved.
     */
    private Block gatedFetch(InterpMonitoring.Armed armed, long rip, long physical) {
        int bits = cpu.codeBits;
        long linear = cpu.codeLinear(rip);
        while (true) {
            Block block = null;
            int generation = -1;
            if (physical >= 0) {
                MemorySegment page = mmu.fetchedPage(linear);
                if (!mayRun(armed, rip, physical)) {
                    return null;
                }
                generation = code.prepare(physical);
                block = blocks.build(page, linear, bits);
            }
            boolean cacheable = block != null;
            long second = -1;
            if (block == null) {
                // Not RAM, or the first instruction straddles the page end: one instruction, decoded through the
                // MMU and never cached; each frame it comes from must be approved (device memory: asked every time).
                Instruction insn = decoder.decode(linear, bits);
                if ((linear & 0xfff) + insn.length > 4096) {
                    second = mmu.translate((linear & Mmu.PAGE_MASK) + 4096, Mmu.FETCH);
                }
                if (physical < 0 && !mayRun(armed, rip, mmu.translate(linear, Mmu.FETCH))
                        || second >= 0 && !mayRun(armed, rip, second)) {
                    return null;
                }
                block = Block.single(insn);
            }
            // A device write that overlapped the question or the decoding is either still under way (counted
            // from before its first byte) or marked (before it stops counting): look in that order, after the
            // decoding's reads.
            VarHandle.loadLoadFence();
            if (physical >= 0 && deviceWrites.underWay(physical) || second >= 0 && deviceWrites.underWay(second)) {
                code.invalidate(physical & Mmu.PAGE_MASK);
                if (second >= 0) {
                    code.invalidate(second);
                }
                awaitDeviceWrite(physical, second);
                dropDeviceWrittenCode(); // what it marked, so that the next round is the last
                mmu.fetchPhysical(linear); // fetchedPage again, for the next round
                continue; // asked again once the write is done
            }
            if (deviceWrites.pending()) {
                dropDeviceWrittenCode();
                if (physical >= 0 && !code.holdsCode(physical) || second >= 0 && mmu.isRam(second) && !code.holdsCode(second)) {
                    mmu.fetchPhysical(linear);
                    continue; // a device wrote what was just approved or decoded
                }
            }
            if (cacheable) {
                code.put(physical, block, generation);
            }
            return block;
        }
    }

    /**
     * Whether the instruction at {@code rip} may run from the frame of {@code physical}: yes at once for a RAM
     * frame approved since its last write; otherwise the listener says. RUN approves a RAM frame, REFUSE raises
     * #GP(0) with RIP on the instruction (and approves nothing), RETRY answers false.
     */
    private boolean mayRun(InterpMonitoring.Armed armed, long rip, long physical) {
        long frame = physical & Mmu.PAGE_MASK;
        boolean ram = mmu.isRam(frame);
        if (ram && code.holdsCode(frame)) {
            return true;
        }
        ExecutionVerdict verdict = armed.listener().beforeExecution(
                new MonitorEvent.CodeExecution(index, rip, cpu.cr3, frame, cpu.cpl == 3));
        return switch (verdict) {
            case RUN -> {
                if (ram) {
                    code.approve(frame);
                }
                yield true;
            }
            case REFUSE -> throw GuestFault.gp();
            case RETRY -> false;
        };
    }

    /** Waits out device writes under way to either frame (a copy of a few pages at most). */
    private void awaitDeviceWrite(long physical, long second) {
        for (int spins = 0; physical >= 0 && deviceWrites.underWay(physical) || second >= 0 && deviceWrites.underWay(second);
             spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the device's thread may be waiting for this core
            }
        }
    }

    /** Drops the decoded code (and approval) of every frame a device or the VMM wrote since the last look. */
    private void dropDeviceWrittenCode() {
        deviceWrites.drain(code::invalidate);
    }

    // ---- completing reads the VMM answered ----

    /** Takes the VMM's answer to the last exit; false when the instruction waiting for it makes no progress. */
    private boolean completePendingRead() {
        if (pendingIn != null) {
            Instruction insn = pendingIn;
            pendingIn = null;
            try {
                completeIn(insn, readData(insn.opSize));
            } catch (GuestFault fault) {
                delivery.fault(fault);
                return true;
            }
        }
        if (pendingMmioRead != null) {
            int size = (int) pendingMmioRead.data().byteSize();
            mmioReplay.record(pendingMmioRead.address(), size, readData(size));
            pendingMmioRead = null;
            return mmioReplay.restart();
        }
        return true;
    }

    /**
     * An instruction that needs more device reads than any instruction can, or keeps asking for different
     * ones, would run again forever with interrupts held off: the guest would freeze and a host core spin.
     * Stop the VM with the reason instead.
     */
    private VcpuExit noForwardProgress() {
        String reason = "no forward progress: the instruction at rip 0x" + Long.toHexString(cpu.rip) + " ran "
                + mmioReplay.restarts() + " times for device reads without completing";
        mmioReplay.clear();
        return new VcpuExit.InternalError(reason);
    }

    /** Finishes an IN (value to RAX) or one INS element (value to [RDI]) with the value read. */
    private void completeIn(Instruction insn, long value) {
        if (insn.op == Op.IN) {
            executor.writeReg(CpuState.RAX, insn.opSize, value, true);
            cpu.rip += insn.length;
        } else { // INS
            long addressMask = Executor.addressMask(insn.addrSize);
            long di = cpu.gpr[CpuState.RDI] & addressMask;
            mmu.write(StringOps.destination(cpu, insn, di, insn.opSize), insn.opSize, value);
            long delta = (cpu.rflags & Flags.DF) != 0 ? -insn.opSize : insn.opSize;
            StringOps.advance(cpu, CpuState.RDI, delta, addressMask);
            StringOps.finishIteration(cpu, insn, insn.rep != 0, addressMask);
        }
    }

    private long readData(int size) {
        long value = ioData.get(U64, 0);
        return size == 8 ? value : value & Flags.mask(size);
    }

    // ---- Executor.Platform ----

    @Override
    public void portIn(Instruction insn, int port, int size) {
        leaveBlock = true;
        checkIoPermission(port, size);
        if (Platform.claimsPort(port)) {
            completeIn(insn, platform.portIn(port, size));
            return;
        }
        ioData.set(U64, 0, 0);
        pendingIn = insn;
        pendingExit = new VcpuExit.IoIn(port, ioData.asSlice(0, size));
    }

    @Override
    public void portOut(int port, int size, long value) {
        leaveBlock = true;
        checkIoPermission(port, size);
        if (Platform.claimsPort(port)) {
            platform.portOut(port, size, value);
            return;
        }
        ioData.set(U64, 0, value);
        pendingExit = new VcpuExit.IoOut(port, ioData.asSlice(0, size));
    }

    @Override
    public void system(Instruction insn) {
        leaveBlock = true;
        if (insn.op == Op.IRET && nmiBlocked) {
            nmiBlocked = false;
            doorbell.ring(); // an NMI that waited is taken before the next block
        }
        system.execute(insn);
    }

    @Override
    public void softwareInterrupt(int vector) {
        leaveBlock = true;
        delivery.interrupt(vector, true);
    }

    @Override
    public boolean attentionNeeded() {
        return leaveBlock;
    }

    /** Above IOPL, the TSS I/O permission bitmap decides. */
    private void checkIoPermission(int port, int size) {
        if (cpu.cpl <= ((cpu.rflags & Flags.IOPL) >>> 12)) {
            return;
        }
        if (cpu.tr.unusable() || cpu.tr.limit() < 0x67) {
            throw GuestFault.gp();
        }
        int bitmap = (int) mmu.readSupervisor(cpu.tr.base() + 0x66, 2);
        long last = bitmap + (port + size - 1) / 8;
        if (last + 1 > Integer.toUnsignedLong(cpu.tr.limit())) {
            throw GuestFault.gp();
        }
        long bits = mmu.readSupervisor(cpu.tr.base() + bitmap + port / 8, 2);
        if (((bits >>> (port & 7)) & ((1 << size) - 1)) != 0) {
            throw GuestFault.gp();
        }
    }

    // ---- Mmu.Physical ----

    /** Unwinds an instruction that must wait for the VMM to answer an MMIO read. */
    static final class MmioReadNeeded extends RuntimeException {
        final long address;
        final int size;

        MmioReadNeeded(long address, int size) {
            super(null, null, false, false);
            this.address = address;
            this.size = size;
        }
    }

    @Override
    public long readMmio(long address, int size) {
        if (platform.claimsMmio(address)) {
            return platform.mmioRead(address, size);
        }
        if (mmioReplay.next(address, size)) {
            leaveBlock = true; // the instruction completes with this run: end the block there (see runBlock)
            return mmioReplay.consume();
        }
        throw new MmioReadNeeded(address, size);
    }

    @Override
    public void writeMmio(long address, int size, long value) {
        leaveBlock = true; // the VMM's turn, or an interrupt controller's state changed
        if (platform.claimsMmio(address)) {
            platform.mmioWrite(address, size, value);
            return;
        }
        MemorySegment data = Arena.ofAuto().allocate(size); // native: see ioData
        for (int i = 0; i < size; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        pendingWrites.add(new VcpuExit.MmioWrite(address, data));
    }

    @Override
    public void ramWritten(long address, int size, long oldValue, long newValue) {
        long page = address & Mmu.PAGE_MASK;
        if (code.holdsCode(page)) {
            leaveBlock = true; // the rest of the running block may be what was overwritten
            code.invalidate(page);
        }
        InterpMonitoring.Armed armed = monitoring.armed();
        if (armed != null && armed.watchesFrame(page)) {
            leaveBlock = true; // the observer may have asked for a stop before the next instruction
            monitoring.frameWritten(armed,
                    new MonitorEvent.PhysicalWrite(index, cpu.rip, cpu.cr3, address, size, oldValue, newValue));
        }
    }

    @Override
    public boolean seesWrites(long physicalPage) {
        if (code.holdsCode(physicalPage)) {
            return true;
        }
        InterpMonitoring.Armed armed = monitoring.armed();
        return armed != null && armed.watchesFrame(physicalPage);
    }

    // ---- register access ----

    @Override
    public Registers registers() {
        long[] r = cpu.gpr;
        return new Registers(r[0], r[3], r[1], r[2], r[6], r[7], r[4], r[5], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15],
                cpu.rip, cpu.rflags());
    }

    @Override
    public void setRegisters(Registers registers) {
        for (int i = 0; i < 16; i++) {
            cpu.gpr[i] = registers.gpr(i);
        }
        cpu.rip = registers.rip();
        cpu.setRflags(registers.rflags());
    }

    @Override
    public SpecialRegisters specialRegisters() {
        return new SpecialRegisters(cpu.segment(CpuState.CS), cpu.segment(CpuState.DS), cpu.segment(CpuState.ES),
                cpu.segment(CpuState.FS), cpu.segment(CpuState.GS), cpu.segment(CpuState.SS), cpu.tr, cpu.ldt,
                cpu.gdt, cpu.idt, cpu.cr0, cpu.cr2, cpu.cr3, cpu.cr4, platform.taskPriorityClass(), cpu.efer,
                platform.readMsr(Platform.MSR_APIC_BASE));
    }

    @Override
    public void setSpecialRegisters(SpecialRegisters s) throws EngineException {
        String invalid = CpuState.invalidMode(s.cr0(), s.cr4(), s.efer(), s.cs());
        if (invalid != null) {
            throw new EngineException(invalid);
        }
        if ((s.cr8() & ~0xfL) != 0) {
            throw new EngineException("CR8 0x" + Long.toHexString(s.cr8()) + " has bits beyond the 4-bit task priority");
        }
        if (s.apicBase() != platform.readMsr(Platform.MSR_APIC_BASE) && !platform.writeMsr(Platform.MSR_APIC_BASE, s.apicBase())) {
            throw new EngineException("IA32_APIC_BASE 0x" + Long.toHexString(s.apicBase()) + " is not supported (x2APIC or reserved bits)");
        }
        cpu.loadSegment(CpuState.CS, s.cs());
        cpu.loadSegment(CpuState.DS, s.ds());
        cpu.loadSegment(CpuState.ES, s.es());
        cpu.loadSegment(CpuState.FS, s.fs());
        cpu.loadSegment(CpuState.GS, s.gs());
        cpu.loadSegment(CpuState.SS, s.ss());
        cpu.tr = s.tr();
        cpu.ldt = s.ldt();
        cpu.gdt = s.gdt();
        cpu.idt = s.idt();
        cpu.cr0 = s.cr0();
        cpu.cr2 = s.cr2();
        cpu.cr3 = s.cr3();
        cpu.cr4 = s.cr4();
        platform.setTaskPriorityClass((int) s.cr8());
        cpu.efer = s.efer();
        // CS was loaded before CR0 told whether this is real mode: the privilege level follows both.
        cpu.cpl = cpu.realMode() ? 0 : s.cs().dpl();
        cpu.updateMode();
        mmu.loadPdptesQuietly();
        mmu.flush();
    }

    @Override
    public void startRunning() {
        waitingForStartup = false;
    }

    @Override
    public long readMsr(int index) throws EngineException {
        try {
            return system.readMsr(index);
        } catch (GuestFault fault) {
            throw new EngineException("MSR 0x" + Integer.toHexString(index) + " is not implemented by the interpreter");
        }
    }

    @Override
    public void writeMsr(int index, long value) throws EngineException {
        try {
            system.writeMsr(index, value);
        } catch (GuestFault fault) {
            throw new EngineException("MSR 0x" + Integer.toHexString(index) + " cannot be set to 0x" + Long.toHexString(value));
        }
    }

    // ---- snapshot ----

    /** The platform (interrupt controllers, timers, clocks), which the VM saves and restores. */
    Platform platform() {
        return platform;
    }

    /**
     * Writes the CPU's architectural state ({@link CpuStateSnapshot} has the layout). Nothing else of the
     * vCPU needs saving, at an instruction boundary: decoded blocks and translations are caches, and the
     * hand-over with the VMM (an unanswered IN or MMIO read, queued MMIO writes, an instruction waiting to
     * run again with MMIO answers) is empty. A vCPU that returned {@link VcpuExit.Interrupted} is always
     * there; one stopped for I/O the VMM has not answered is refused, since its instruction is half done.
     * The instruction count is a statistic of this run and is not carried over.
     */
    @Override
    public void saveState(StateWriter out) throws EngineException {
        if (pendingIn != null || pendingMmioRead != null || mmioReplay.active() || !pendingWrites.isEmpty() || pendingExit != null) {
            throw new EngineException("vCPU " + index + " is not at an instruction boundary (an I/O exit is"
                    + " unanswered or MMIO writes are queued): snapshot it once run() has returned Interrupted");
        }
        InterpEngine.markSnapshot(out);
        CpuStateSnapshot.save(cpu, out);
        // Where the CPU stands between instructions beyond its registers (absent from snapshots before SMP).
        out.putBoolean("waiting_for_startup", waitingForStartup);
        out.putBoolean("nmi_pending", nmiPending);
        out.putBoolean("nmi_blocked", nmiBlocked);
    }

    /**
     * Restores what {@link #saveState} wrote, all of it checked before any of it is applied, and forgets
     * every decoded block and cached translation: they were made for other memory and other page tables.
     */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        InterpEngine.checkSnapshot(in);
        CpuState restored = CpuStateSnapshot.read(in);
        boolean waiting = in.has("waiting_for_startup") ? in.getBoolean("waiting_for_startup") : index != 0;
        boolean nmi = in.has("nmi_pending") && in.getBoolean("nmi_pending");
        boolean blocked = in.has("nmi_blocked") && in.getBoolean("nmi_blocked");
        if (waiting && index == 0) {
            throw new SnapshotException("snapshot field " + in.path() + ".waiting_for_startup: vCPU 0, the BSP, never"
                    + " waits for a start-up IPI");
        }
        cpu.copyFrom(restored);
        waitingForStartup = waiting;
        nmiPending = nmi;
        nmiBlocked = blocked;
        pendingIn = null;
        pendingMmioRead = null;
        pendingExit = null;
        pendingWrites.clear();
        mmioReplay.clear();
        code.clear();
        mmu.flush();
    }

    @Override
    public void requestExit() {
        exitRequested = true;
        doorbell.ring();
    }

    @Override
    public void close() {
    }
}
