package io.vmguard.vmm;

import io.vmguard.arch.x86.BootState;
import io.vmguard.arch.x86.KernelLoadException;
import io.vmguard.arch.x86.LinuxBoot;
import io.vmguard.arch.x86.X86Layout;
import io.vmguard.arch.x86.acpi.AcpiPlatform;
import io.vmguard.arch.x86.acpi.AcpiTables;
import io.vmguard.bus.Bus;
import io.vmguard.devices.PowerControl;
import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.HostMemory;
import io.vmguard.pci.PciRoot;
import io.vmguard.sys.NativeException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * One virtual machine: guest memory, an engine's VM and vCPU, the buses, the legacy devices and the PCI
 * root bus, wired together from a {@link VmConfig}. This is the only place that knows both engines and devices.
 */
public final class Vm implements AutoCloseable {
    private static final long VCPU_JOIN_MILLIS = 2000;
    private static final Duration WATCHDOG_PERIOD = Duration.ofSeconds(1);
    /** No device access takes this long: disk I/O on the vCPU thread is the slowest (a flush of a large cache). */
    private static final Duration DEVICE_STUCK_AFTER = Duration.ofSeconds(60);

    private final GuestMemory memory;
    private final VirtualMachine machine;
    private final Vcpu vcpu;
    private final LegacyDevices devices;
    private final VirtioDevices virtio;
    /** Completed once, by whichever comes first: the guest's power-off or reset, a vCPU failure, a stop. */
    private final CompletableFuture<RunOutcome> outcome;
    private final VcpuRunner runner;
    private final VmEvents events;
    private Thread vcpuThread;
    private Watchdog watchdog;

    private Vm(GuestMemory memory, VirtualMachine machine, Vcpu vcpu, LegacyDevices devices, VirtioDevices virtio,
               Bus io, Bus mmio, CompletableFuture<RunOutcome> outcome, VmEvents events) {
        this.events = events;
        this.virtio = virtio;
        this.memory = memory;
        this.machine = machine;
        this.vcpu = vcpu;
        this.devices = devices;
        this.outcome = outcome;
        this.runner = new VcpuRunner(vcpu, io, mmio, outcome);
    }

    /** Builds the VM and loads the kernel; nothing runs until {@link #run()}. */
    public static Vm create(VmConfig config, Engine engine) throws VmException {
        return create(config, engine, VmEvents.none(), pci -> {});
    }

    /** As {@link #create(VmConfig, Engine)}, reporting security events to {@code events}. */
    public static Vm create(VmConfig config, Engine engine, VmEvents events) throws VmException {
        return create(config, engine, events, pci -> {});
    }

    /** As {@link #create(VmConfig, Engine)}, with PCI devices {@code pciDevices} adds to the root bus before the virtio ones (tests). */
    static Vm create(VmConfig config, Engine engine, Consumer<PciRoot> pciDevices) throws VmException {
        return create(config, engine, VmEvents.none(), pciDevices);
    }

    private static Vm create(VmConfig config, Engine engine, VmEvents events, Consumer<PciRoot> pciDevices)
            throws VmException {
        GuestMemory memory = null;
        VirtualMachine machine = null;
        VirtioDevices virtio = null;
        HostMemory host = HostMemory.probe();
        if (!host.fits(config.memoryBytes())) {
            throw new VmException("guest memory of " + HostMemory.describe(config.memoryBytes()) + " is more than this host can "
                    + "back (" + host.basis() + ": " + HostMemory.describe(host.available()) + ")");
        }
        try {
            memory = GuestMemory.allocate(X86Layout.ramRanges(config.memoryBytes()));
            machine = engine.createVm(memory);
            Bus io = new Bus("port I/O");
            Bus mmio = new Bus("MMIO");
            PciRoot pci = new PciRoot(machine::interruptLine, machine::signalMsi);
            pci.registerOn(io, mmio);
            pciDevices.accept(pci);
            virtio = new VirtioDevices(mmio, pci, config.virtioTransport(), machine, memory);
            virtio.attach(config);

            // The guest learns its devices from ACPI: the virtio-mmio ones are declared there, PCI is enumerated.
            long rsdp = AcpiTables.install(memory, new AcpiPlatform(1, true, virtio.slots()));
            BootState boot = LinuxBoot.prepare(memory, config.kernel(), config.initrd(), config.commandLine(), rsdp);
            Vcpu vcpu = machine.createVcpu(0);
            vcpu.setRegisters(boot.registers());
            vcpu.setSpecialRegisters(boot.specialRegisters());
            BootMsrs.applyTo(vcpu);

            CompletableFuture<RunOutcome> outcome = new CompletableFuture<>();
            LegacyDevices devices = LegacyDevices.attach(io, machine, config.serial(), powerControl(outcome));
            return new Vm(memory, machine, vcpu, devices, virtio, io, mmio, outcome, events);
        } catch (KernelLoadException | EngineException e) {
            closeQuietly(virtio, machine, memory);
            throw new VmException(e.getMessage(), e);
        } catch (NativeException e) {
            closeQuietly(virtio, machine, memory);
            throw new VmException("cannot allocate guest memory: " + e.getMessage(), e);
        } catch (IllegalArgumentException | VmException e) {
            closeQuietly(virtio, machine, memory);
            throw e instanceof VmException vm ? vm : new VmException(e.getMessage(), e);
        }
    }

    private static PowerControl powerControl(CompletableFuture<RunOutcome> stop) {
        return new PowerControl() {
            @Override
            public void powerOff(int status) {
                stop.complete(new RunOutcome.PoweredOff(status));
            }

            @Override
            public void reset() {
                stop.complete(new RunOutcome.Reset("guest requested a reset"));
            }
        };
    }

    /** Boots the guest and blocks until it powers off, resets or fails. */
    public RunOutcome run() throws InterruptedException {
        devices.startInput();
        vcpuThread = Thread.ofPlatform().name("vcpu0").daemon().start(runner);
        watchdog = new Watchdog(events, List.of(runner), this::stop, WATCHDOG_PERIOD, DEVICE_STUCK_AFTER,
                () -> Runtime.getRuntime().halt(1));
        watchdog.start();
        RunOutcome result = outcome.join();
        if (result instanceof RunOutcome.Failed failed) {
            events.emit(Source.VMM, "vm-stopped", Severity.WARNING, Map.of("reason", failed.reason()));
        }
        runner.stop();
        vcpuThread.join(VCPU_JOIN_MILLIS);
        devices.flush();
        return result;
    }

    /** Ends the run from outside (a signal, an API call). */
    public void stop(String reason) {
        outcome.complete(new RunOutcome.Failed(reason));
    }

    /** Guest instructions executed so far, where the engine counts them. */
    public java.util.OptionalLong instructionsExecuted() {
        return vcpu.instructionsExecuted();
    }

    public GuestMemory memory() {
        return memory;
    }

    @Override
    public void close() {
        devices.close();
        virtio.close();
        if (watchdog != null) {
            watchdog.close(); // the shutdown completed: no last resort needed
        }
        if (vcpuThread != null && vcpuThread.isAlive()) {
            // The vCPU still runs on this memory: unmapping it now could crash the host process.
            return;
        }
        vcpu.close();
        closeQuietly(null, machine, memory);
    }

    private static void closeQuietly(VirtioDevices virtio, VirtualMachine machine, GuestMemory memory) {
        if (virtio != null) {
            virtio.close();
        }
        if (machine != null) {
            machine.close();
        }
        if (memory != null) {
            memory.close();
        }
    }
}
