package io.vmguard.vmm;

import io.vmguard.bus.Bus;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The vCPU run loop: runs guest code, dispatches each exit to the port-I/O or MMIO bus, and reports the
 * exits that end the run. Which engine produced an exit makes no difference here.
 *
 * <p>Pausing parks the loop between two {@link Vcpu#run()} calls, and only after the engine returned
 * {@link VcpuExit.Interrupted}: that exit is the engine's promise that the vCPU stands at an instruction
 * boundary with no device access half done, so its state can be read and saved.
 */
final class VcpuRunner implements Runnable {
    private final Vcpu vcpu;
    private final Bus io;
    private final Bus mmio;
    /** Completed by whoever ends the run first: a device (power-off, reset), this loop, or a stop. */
    private final CompletableFuture<RunOutcome> outcome;
    private volatile boolean stopRequested;
    /** When the exit being handled went to a device (System.nanoTime), or 0: the watchdog's view. */
    private volatile long inDeviceSince;
    private volatile VcpuExit currentExit;
    private volatile long threadId = -1;
    /** Exits so far, by kind (indexed by {@link #EXIT_KINDS}); written by the vCPU thread only. */
    private final AtomicLongArray exits = new AtomicLongArray(EXIT_KINDS.length);
    private static final String[] EXIT_KINDS = {"io_in", "io_out", "mmio_read", "mmio_write", "interrupted", "halt",
            "shutdown", "internal_error"};

    /** Guards the pause hand-shake: {@link #pauseRequested} and {@link #parked}. */
    private final Object pauseLock = new Object();
    private boolean pauseRequested;
    private boolean parked;

    VcpuRunner(Vcpu vcpu, Bus io, Bus mmio, CompletableFuture<RunOutcome> outcome) {
        this.vcpu = vcpu;
        this.io = io;
        this.mmio = mmio;
        this.outcome = outcome;
    }

    /** Asks the loop to end; the vCPU leaves guest mode promptly even if halted. */
    void stop() {
        stopRequested = true;
        vcpu.requestExit();
        synchronized (pauseLock) {
            pauseLock.notifyAll();
        }
    }

    /**
     * Parks the vCPU at an instruction boundary and returns once it is parked, or false if it did not park
     * within {@code timeoutMillis} (a device access that does not return) or the run ended first.
     */
    boolean pause(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (pauseLock) {
            pauseRequested = true;
            vcpu.requestExit();
            while (!parked && !stopRequested && !outcome.isDone()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(pauseLock, left);
            }
            return parked;
        }
    }

    /**
     * Asks the vCPU to park before its next instruction without waiting for it: callable from the vCPU's own
     * thread (a monitor's listener), where {@link #pause} would wait for itself. A later {@link #pause}
     * finds it parked.
     */
    void requestPause() {
        synchronized (pauseLock) {
            pauseRequested = true;
        }
        vcpu.requestExit();
    }

    /** Lets a parked (or parking) vCPU run again. */
    void resume() {
        synchronized (pauseLock) {
            pauseRequested = false;
            pauseLock.notifyAll();
        }
    }

    /** Exits handled so far, by kind. */
    Map<String, Long> exitCounts() {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (int i = 0; i < EXIT_KINDS.length; i++) {
            counts.put(EXIT_KINDS[i], exits.get(i));
        }
        return counts;
    }

    @Override
    public void run() {
        threadId = Thread.currentThread().threadId();
        try {
            // A device that ended the run (the exit port, the i8042 reset line) did so while handling the
            // last exit: the guest must not run one more instruction after powering off.
            while (!stopRequested && !outcome.isDone()) {
                VcpuExit exit = vcpu.run();
                RunOutcome result = handle(exit);
                if (result != null) {
                    outcome.complete(result);
                    return;
                }
                if (exit instanceof VcpuExit.Interrupted) {
                    parkWhilePaused();
                }
            }
        } catch (RuntimeException e) {
            // A device model bug must end this VM with a message, not leave a dead thread and a hung VMM.
            outcome.complete(new RunOutcome.Failed("vCPU " + vcpu.index() + ": " + e));
        }
    }

    /**
     * Waits here while a pause is requested. The pauser's requestExit may have been consumed by an exit
     * other than Interrupted; the loop then simply runs on and the next requestExit-driven exit parks.
     */
    private void parkWhilePaused() {
        synchronized (pauseLock) {
            if (!pauseRequested) {
                return;
            }
            parked = true;
            pauseLock.notifyAll();
            try {
                while (pauseRequested && !stopRequested && !outcome.isDone()) {
                    pauseLock.wait(100); // wakes for stop() and for an outcome completed elsewhere
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopRequested = true;
            } finally {
                parked = false;
            }
        }
    }

    int index() {
        return vcpu.index();
    }

    /** The thread running this vCPU, or -1 before it started. */
    long threadId() {
        return threadId;
    }

    /** Guest instructions so far, where the engine counts them. */
    java.util.OptionalLong instructions() {
        return vcpu.instructionsExecuted();
    }

    /** The vCPU's guest RIP now, for a sampling profile ({@link io.vmguard.engine.Vcpu#sampleRip}). */
    java.util.OptionalLong sampleRip() {
        return vcpu.sampleRip();
    }

    /** When the device access under way started (System.nanoTime), or 0 when none is. */
    long inDeviceSince() {
        return inDeviceSince;
    }

    /** The exit handled last or now, for the watchdog's report. */
    String currentExit() {
        return switch (currentExit) {
            case null -> "no exit yet";
            case VcpuExit.IoIn in -> "port read of " + in.data().byteSize() + " bytes at 0x" + Integer.toHexString(in.port());
            case VcpuExit.IoOut out -> "port write of " + out.data().byteSize() + " bytes at 0x" + Integer.toHexString(out.port());
            case VcpuExit.MmioRead read -> "MMIO read of " + read.data().byteSize() + " bytes at 0x" + Long.toHexString(read.address());
            case VcpuExit.MmioWrite write -> "MMIO write of " + write.data().byteSize() + " bytes at 0x"
                    + Long.toHexString(write.address());
            default -> currentExit.toString();
        };
    }

    /** Handles one exit; returns the outcome when the exit ends the run. */
    private RunOutcome handle(VcpuExit exit) {
        exits.incrementAndGet(kind(exit));
        if (exit instanceof VcpuExit.IoIn || exit instanceof VcpuExit.IoOut || exit instanceof VcpuExit.MmioRead
                || exit instanceof VcpuExit.MmioWrite) {
            currentExit = exit;
            inDeviceSince = System.nanoTime() | 1; // never 0, which means "not in a device"
            try {
                return dispatch(exit);
            } finally {
                inDeviceSince = 0;
            }
        }
        return dispatch(exit);
    }

    private static int kind(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.IoIn in -> 0;
            case VcpuExit.IoOut out -> 1;
            case VcpuExit.MmioRead read -> 2;
            case VcpuExit.MmioWrite write -> 3;
            case VcpuExit.Interrupted interrupted -> 4;
            case VcpuExit.Halt halt -> 5;
            case VcpuExit.Shutdown shutdown -> 6;
            case VcpuExit.InternalError error -> 7;
        };
    }

    private RunOutcome dispatch(VcpuExit exit) {
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
