package io.vmguard.vmm;

import io.vmguard.bus.Bus;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import java.util.function.Consumer;

/**
 * The vCPU run loop: runs guest code, dispatches each exit to the port-I/O or MMIO bus, and reports the
 * exits that end the run. Which engine produced an exit makes no difference here.
 */
final class VcpuRunner implements Runnable {
    private final Vcpu vcpu;
    private final Bus io;
    private final Bus mmio;
    private final Consumer<RunOutcome> onStop;
    private volatile boolean stopRequested;

    VcpuRunner(Vcpu vcpu, Bus io, Bus mmio, Consumer<RunOutcome> onStop) {
        this.vcpu = vcpu;
        this.io = io;
        this.mmio = mmio;
        this.onStop = onStop;
    }

    /** Asks the loop to end; the vCPU leaves guest mode promptly even if halted. */
    void stop() {
        stopRequested = true;
        vcpu.requestExit();
    }

    @Override
    public void run() {
        try {
            while (!stopRequested) {
                RunOutcome outcome = handle(vcpu.run());
                if (outcome != null) {
                    onStop.accept(outcome);
                    return;
                }
            }
        } catch (RuntimeException e) {
            // A device model bug must end this VM with a message, not leave a dead thread and a hung VMM.
            onStop.accept(new RunOutcome.Failed("vCPU " + vcpu.index() + ": " + e));
        }
    }

    /** Handles one exit; returns the outcome when the exit ends the run. */
    private RunOutcome handle(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.IoIn in -> {
                io.read(in.port(), in.data());
                yield null;
            }
            case VcpuExit.IoOut out -> {
                io.write(out.port(), out.data());
                yield null;
            }
            case VcpuExit.MmioRead read -> {
                mmio.read(read.address(), read.data());
                yield null;
            }
            case VcpuExit.MmioWrite write -> {
                mmio.write(write.address(), write.data());
                yield null;
            }
            case VcpuExit.Interrupted interrupted -> null;
            case VcpuExit.Halt halt -> new RunOutcome.Failed("guest halted with nothing left to wake it");
            case VcpuExit.Shutdown shutdown -> new RunOutcome.Reset(shutdown.reason());
            case VcpuExit.InternalError error -> new RunOutcome.Failed("engine error: " + error.reason());
        };
    }
}
