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
import io.vmguard.memory.GuestMemory;
import io.vmguard.sys.NativeException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One virtual machine: guest memory, an engine's VM and vCPU, the buses and the legacy devices, wired
 * together from a {@link VmConfig}. This is the only place that knows both engines and devices.
 */
public final class Vm implements AutoCloseable {
    private static final long VCPU_JOIN_MILLIS = 2000;

    private final GuestMemory memory;
    private final VirtualMachine machine;
    private final Vcpu vcpu;
    private final LegacyDevices devices;
    /** Completed once, by whichever comes first: the guest's power-off or reset, a vCPU failure, a stop. */
    private final CompletableFuture<RunOutcome> outcome;
    private final VcpuRunner runner;
    private Thread vcpuThread;

    private Vm(GuestMemory memory, VirtualMachine machine, Vcpu vcpu, LegacyDevices devices, Bus io, Bus mmio,
               CompletableFuture<RunOutcome> outcome) {
        this.memory = memory;
        this.machine = machine;
        this.vcpu = vcpu;
        this.devices = devices;
        this.outcome = outcome;
        this.runner = new VcpuRunner(vcpu, io, mmio, outcome);
    }

    /** Builds the VM and loads the kernel; nothing runs until {@link #run()}. */
    public static Vm create(VmConfig config, Engine engine) throws VmException {
        GuestMemory memory = null;
        VirtualMachine machine = null;
        try {
            memory = GuestMemory.allocate(X86Layout.ramRanges(config.memoryBytes()));
            // One vCPU, a PCI host bridge, no virtio-mmio devices yet.
            long rsdp = AcpiTables.install(memory, new AcpiPlatform(1, true, List.of()));
            BootState boot = LinuxBoot.prepare(memory, config.kernel(), config.initrd(), config.commandLine(), rsdp);
            machine = engine.createVm(memory);
            Vcpu vcpu = machine.createVcpu(0);
            vcpu.setRegisters(boot.registers());
            vcpu.setSpecialRegisters(boot.specialRegisters());
            BootMsrs.applyTo(vcpu);

            Bus io = new Bus("port I/O");
            Bus mmio = new Bus("MMIO");
            CompletableFuture<RunOutcome> outcome = new CompletableFuture<>();
            LegacyDevices devices = LegacyDevices.attach(io, machine, config.serial(), powerControl(outcome));
            return new Vm(memory, machine, vcpu, devices, io, mmio, outcome);
        } catch (KernelLoadException | EngineException e) {
            closeQuietly(machine, memory);
            throw new VmException(e.getMessage(), e);
        } catch (NativeException e) {
            closeQuietly(machine, memory);
            throw new VmException("cannot allocate guest memory: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            closeQuietly(machine, memory);
            throw new VmException(e.getMessage(), e);
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
        RunOutcome result = outcome.join();
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
        if (vcpuThread != null && vcpuThread.isAlive()) {
            // The vCPU still runs on this memory: unmapping it now could crash the host process.
            return;
        }
        vcpu.close();
        closeQuietly(machine, memory);
    }

    private static void closeQuietly(VirtualMachine machine, GuestMemory memory) {
        if (machine != null) {
            machine.close();
        }
        if (memory != null) {
            memory.close();
        }
    }
}
