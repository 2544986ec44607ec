package io.vmguard.engine;

import io.vmguard.bus.InterruptLine;

/** A VM of one engine: its vCPUs and its interrupt controller inputs. */
public interface VirtualMachine extends AutoCloseable {
    /**
     * Creates vCPU {@code index} in its power-on state (FPU and MXCSR at their reset values), with the
     * CPUID the engine can honestly offer.
     */
    Vcpu createVcpu(int index) throws EngineException;

    /**
     * The input of global system interrupt {@code gsi} (the legacy IRQs 0-15 map 1:1 to the PIC and
     * I/O APIC pins 0-15).
     */
    InterruptLine interruptLine(int gsi);

    /**
     * Delivers a message-signalled interrupt, as if a device wrote {@code data} to {@code address}
     * ({@link MsiMessage} has the format): a fixed or lowest-priority message raises its vector in the
     * addressed local APIC. Messages outside the interrupt window, or addressed to no APIC, are dropped,
     * as the hardware drops them. Any thread; the values are guest-chosen (MSI-X tables), so this never
     * throws for them.
     */
    void signalMsi(long address, int data);

    /**
     * What this engine can trap for an outside observer (introspection, antivirus), or empty when it traps
     * nothing and observers must poll.
     */
    default java.util.Optional<io.vmguard.engine.monitor.Monitoring> monitoring() {
        return java.util.Optional.empty();
    }

    /**
     * Something other than a vCPU is about to change guest RAM while the guest may run: a device's DMA
     * (through {@link io.vmguard.dma.GuestDmaSpace}'s observer). Any thread; {@link #guestMemoryWriteEnds} with
     * the same range must follow, once the bytes are in place and before the guest is told (a used ring, an
     * interrupt). An engine that derives state from guest RAM drops what it derived from the range before a
     * vCPU next uses it, and does not trust what it reads there in between: the interpreter its decoded
     * instructions, so the next execution decodes, and asks a
     * {@link io.vmguard.engine.monitor.TrapKind#CODE_EXECUTION} observer, again. KVM needs nothing: x86 keeps
     * instruction fetch coherent with DMA, so these defaults do nothing.
     */
    default void guestMemoryWriteBegins(long address, long length) {
    }

    /** Ends what {@link #guestMemoryWriteBegins} with the same range began. */
    default void guestMemoryWriteEnds(long address, long length) {
    }

    /**
     * Both of the above at once, for a write already made while no vCPU could use the range meanwhile (the VMM
     * writing while it holds the vCPUs, as introspection does).
     */
    default void guestMemoryWrittenByDevice(long address, long length) {
        guestMemoryWriteBegins(address, length);
        guestMemoryWriteEnds(address, length);
    }

    /**
     * Writes the engine's platform state for a snapshot: the interrupt controllers, timers and clocks it
     * emulates (I/O APIC, PIC, PIT, local APICs' timers, TSC and kvmclock). Called while every vCPU is paused.
     */
    default void saveState(io.vmguard.snapshot.StateWriter out) throws EngineException {
        throw new EngineException("this engine cannot snapshot its platform");
    }

    /** Restores what {@link #saveState} wrote, after the vCPUs are created and before any runs. */
    default void restoreState(io.vmguard.snapshot.StateReader in)
            throws EngineException, io.vmguard.snapshot.SnapshotException {
        throw new EngineException("this engine cannot restore its platform");
    }

    @Override
    void close();
}
