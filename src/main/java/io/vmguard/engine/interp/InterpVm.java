package io.vmguard.engine.interp;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.interp.mmu.AtomicAccess;
import io.vmguard.engine.interp.monitor.InterpMonitoring;
import io.vmguard.engine.interp.platform.ApicBus;
import io.vmguard.engine.interp.platform.Chipset;
import io.vmguard.engine.interp.platform.Doorbell;
import io.vmguard.engine.interp.platform.InterruptInputs;
import io.vmguard.engine.interp.platform.Platform;
import io.vmguard.engine.interp.platform.RestorableClock;
import io.vmguard.engine.interp.platform.SnapshotFields;
import io.vmguard.engine.interp.platform.VmClock;
import io.vmguard.memory.GuestMemory;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.List;

/**
 * A VM of the interpreter engine: up to {@link #MAX_VCPUS} vCPUs, each on the thread that runs it, with the PC
 * platform inside the engine as KVM's in-kernel irqchip would be: a local APIC, TSC and kvmclock per vCPU, and
 * the chipset they share (PIC, I/O APIC, PIT), all meeting on one {@link ApicBus}. vCPU 0 is the BSP and runs
 * from its boot state; the others wait for INIT and a start-up IPI, as Linux's SMP boot expects.
 *
 * <p>The vCPUs share decoded code ({@link CodeCache}: a write on one drops what any of them decoded there) and
 * a bus lock for locked instructions that no host atomic covers ({@link AtomicAccess}).
 *
 * <p>Interrupt lines may be driven from any thread (a UART's input thread, a test): they land in
 * {@link InterruptInputs}, which rings the BSP's {@link Doorbell}; whichever vCPU looks first hands them to the
 * chipset. Message-signalled interrupts go straight onto the APIC bus, into the addressed APIC's inbox.
 *
 * <p><b>Snapshots.</b> The VM's tree is {@code {engine: "interp", vm_time_nanos, platform, interrupt_inputs,
 * application_processors}}: the VM time the snapshot stands for, the BSP's platform with the chipset (as with one
 * vCPU), the interrupt lines' hand-over, and each other vCPU's TSC, local APIC and kvmclock. A restored VM's
 * clock continues from {@code vm_time_nanos}, so the guest's TSC, kvmclock and timers carry on where they were,
 * in this process or another, and never run backwards.
 */
final class InterpVm implements VirtualMachine {
    /** As many as the guest kernel is built for (NR_CPUS) and the MADT can list; the APIC ids stay below 0xff. */
    static final int MAX_VCPUS = 64;

    private final GuestMemory memory;
    private final UnimplementedLog unimplemented = new UnimplementedLog();
    private final RestorableClock clock;
    private final Doorbell bspDoorbell = new Doorbell();
    private final InterruptInputs inputs = new InterruptInputs(bspDoorbell::ring);
    private final ApicBus apicBus = new ApicBus();
    private final Chipset chipset;
    private final InterruptLine[] lines = new InterruptLine[InterruptInputs.COUNT];
    private final InterpVcpu[] vcpus = new InterpVcpu[MAX_VCPUS];
    private final Doorbell[] doorbells = new Doorbell[MAX_VCPUS];
    private final InterpMonitoring monitoring = new InterpMonitoring(this::ringAll);
    private final DeviceWrites deviceWrites;
    private final CodeCache code;
    private final AtomicAccess.BusLock busLock = new AtomicAccess.BusLock();
    /** Compiles hot blocks for all vCPUs; null with the JIT off. */
    private final JitBridge jit;

    InterpVm(GuestMemory memory) {
        this(memory, VmClock.system());
    }

    /** A VM whose time runs with {@code timeSource} (host time; tests drive their own). */
    InterpVm(GuestMemory memory, VmClock timeSource) {
        this(memory, timeSource, JitOptions.fromSystemProperties());
    }

    InterpVm(GuestMemory memory, VmClock timeSource, JitOptions jitOptions) {
        this.memory = memory;
        this.jit = jitOptions.enabled() ? new JitBridge(jitOptions) : null;
        this.clock = new RestorableClock(timeSource);
        this.chipset = new Chipset(clock, inputs, apicBus);
        this.deviceWrites = new DeviceWrites(memory.end(), this::flagAll);
        this.code = new CodeCache(memory.end(), this::flagAll);
        doorbells[0] = bspDoorbell;
        for (int gsi = 0; gsi < lines.length; gsi++) {
            int line = gsi;
            lines[gsi] = asserted -> inputs.set(line, asserted);
        }
    }

    /** Creates vCPU {@code index} (0 first: the BSP, which owns the platform's timers). */
    @Override
    public synchronized Vcpu createVcpu(int index) throws EngineException {
        if (index < 0 || index >= MAX_VCPUS) {
            throw new EngineException("the interpreter runs up to " + MAX_VCPUS + " vCPUs (0-" + (MAX_VCPUS - 1)
                    + "); there is no vCPU " + index);
        }
        if (vcpus[index] != null) {
            throw new EngineException("vCPU " + index + " exists already");
        }
        if (index > 0 && vcpus[0] == null) {
            throw new EngineException("create vCPU 0 (the BSP) before vCPU " + index);
        }
        if (index > 0) {
            busLock.shared(); // from now on locked instructions must be atomic across threads
        }
        Doorbell doorbell = index == 0 ? bspDoorbell : new Doorbell();
        doorbells[index] = doorbell;
        vcpus[index] = new InterpVcpu(index, memory, unimplemented, clock, chipset, doorbell, monitoring, deviceWrites,
                code, busLock, jit);
        return vcpus[index];
    }

    /**
     * News every vCPU needs before its next block but none must wake for (device-written code, new code pages): one
     * flag their compiled loops and chains look at, instead of one look each (see JitRuntime.mayGoOn).
     */
    private void flagAll() {
        for (Doorbell doorbell : doorbells) {
            if (doorbell != null) {
                doorbell.flag();
            }
        }
    }

    private void ringAll() {
        for (Doorbell doorbell : doorbells) {
            if (doorbell != null) {
                doorbell.ring();
            }
        }
    }

    @Override
    public java.util.Optional<io.vmguard.engine.monitor.Monitoring> monitoring() {
        return java.util.Optional.of(monitoring);
    }

    /**
     * Marks the frames for the vCPUs, which drop their decoded code before their next block; the next execution
     * from them decodes again (and asks an armed code-execution listener again).
     */
    @Override
    public void guestMemoryWriteBegins(long address, long length) {
        deviceWrites.begin(address, length);
    }

    @Override
    public void guestMemoryWriteEnds(long address, long length) {
        deviceWrites.end(address, length);
    }

    /** GSIs 0-15 reach the PIC and the I/O APIC, 16-23 the I/O APIC only. */
    @Override
    public InterruptLine interruptLine(int gsi) {
        if (gsi < 0 || gsi >= lines.length) {
            throw new IllegalArgumentException("no interrupt line " + gsi + " (0-" + (lines.length - 1) + ")");
        }
        return lines[gsi];
    }

    /** Onto the APIC bus, into the addressed APICs' inboxes; non-interrupt addresses are dropped. */
    @Override
    public void signalMsi(long address, int data) {
        Platform.deliverMessage(apicBus, address, data);
    }

    @Override
    public synchronized void saveState(StateWriter out) throws EngineException {
        Platform bsp = platform(0);
        long now = clock.nanos();
        InterpEngine.markSnapshot(out);
        out.putLong("vm_time_nanos", now);
        bsp.saveState(out.child("platform"), now, true);
        out.save("interrupt_inputs", inputs);
        out.tree().putArray("application_processors");
        for (int index = 1; index < vcpuCount(); index++) {
            platform(index).saveState(out.append("application_processors"), now, false);
        }
    }

    /**
     * Restores what {@link #saveState} wrote: all of it or, on a SnapshotException, none of it (everything
     * is checked against scratch parts before the clock or any device changes). The snapshot must have as many
     * vCPUs as this VM; a snapshot of one vCPU from before SMP has no list of application processors.
     */
    @Override
    public synchronized void restoreState(StateReader in) throws EngineException, SnapshotException {
        Platform bsp = platform(0);
        InterpEngine.checkSnapshot(in);
        long savedTime = in.getLong("vm_time_nanos", 0, SnapshotFields.TIME_LIMIT);
        StateReader platformState = in.child("platform");
        StateReader inputsState = in.child("interrupt_inputs");
        List<StateReader> processors = in.has("application_processors")
                ? in.list("application_processors", MAX_VCPUS - 1) : List.of();
        if (processors.size() != vcpuCount() - 1) {
            throw new SnapshotException("snapshot field " + in.path() + ".application_processors has "
                    + processors.size() + " entries; this VM has " + (vcpuCount() - 1) + " application processors");
        }
        bsp.checkState(platformState, savedTime, true);
        for (int i = 0; i < processors.size(); i++) {
            platform(i + 1).checkState(processors.get(i), savedTime, false);
        }
        new InterruptInputs(() -> { }).restoreState(inputsState);

        clock.continueFrom(savedTime);
        bsp.restoreState(platformState, savedTime, true);
        for (int i = 0; i < processors.size(); i++) {
            platform(i + 1).restoreState(processors.get(i), savedTime, false);
        }
        inputs.restoreState(inputsState);
    }

    /** The vCPUs created so far, which are 0 to n-1. */
    private int vcpuCount() {
        int count = 0;
        while (count < MAX_VCPUS && vcpus[count] != null) {
            count++;
        }
        return count;
    }

    /** A vCPU's platform; vCPU 0's holds the chipset. */
    private Platform platform(int index) throws EngineException {
        if (vcpus[index] == null) {
            throw new EngineException("the interpreter's platform comes with the vCPUs: create vCPU " + index
                    + " before a snapshot or restore");
        }
        return vcpus[index].platform();
    }

    /** The JIT's compiler (tests, statistics); null with the JIT off. */
    io.vmguard.engine.interp.jit.JitCompiler jitCompiler() {
        return jit == null ? null : jit.compiler();
    }

    @Override
    public void close() {
        if (jit != null && Boolean.getBoolean("vmguard.jit.stats")) {
            long all = 0, compiled = 0, chained = 0;
            for (InterpVcpu vcpu : vcpus) {
                if (vcpu != null) {
                    all += vcpu.instructions();
                    compiled += vcpu.compiledInstructions();
                    chained += vcpu.chainedEntries();
                }
            }
            System.err.printf("vmguard: JIT %s; %d of %d guest instructions (%.1f%%) ran compiled; %d blocks entered chained%n",
                    jit.compiler().statistics(), compiled, all, all == 0 ? 0.0 : 100.0 * compiled / all, chained);
            StringBuilder ops = new StringBuilder("vmguard: JIT: instructions compiled blocks left to the interpreter, by op:");
            java.util.stream.IntStream.range(0, 256).boxed()
                    .sorted((a, b) -> Long.compare(JitRuntime.INTERPRETED.get(b), JitRuntime.INTERPRETED.get(a))).limit(15)
                    .forEach(op -> ops.append(' ').append(op).append('=').append(JitRuntime.INTERPRETED.get(op)));
            System.err.println(ops);
            StringBuilder forms = new StringBuilder("vmguard: JIT: the same by form (op/sub/size[/mem][/cl]):");
            JitRuntime.INTERPRETED_FORMS.entrySet().stream()
                    .sorted((a, b) -> Long.compare(b.getValue().sum(), a.getValue().sum())).limit(15)
                    .forEach(e -> forms.append(' ').append(JitRuntime.describeForm(e.getKey())).append('=').append(e.getValue().sum()));
            System.err.println(forms);
            StringBuilder sse = new StringBuilder("vmguard: JIT: SSE instructions left to the interpreter, by prefix.0F opcode:");
            java.util.stream.IntStream.range(0, 1024).boxed()
                    .filter(key -> JitRuntime.INTERPRETED_SSE.get(key) > 0)
                    .sorted((a, b) -> Long.compare(JitRuntime.INTERPRETED_SSE.get(b), JitRuntime.INTERPRETED_SSE.get(a))).limit(12)
                    .forEach(key -> sse.append(' ').append(new String[] {"", "66.", "F2.", "F3."}[key >> 8])
                            .append(String.format("0F%02X", key & 0xff)).append('=').append(JitRuntime.INTERPRETED_SSE.get(key)));
            System.err.println(sse);
        }
        if (jit != null) {
            jit.close();
        }
    }
}
