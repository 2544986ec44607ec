package io.vmguard.bus;

/**
 * Where a device's message-signalled interrupts go: the message-signalled counterpart of
 * {@link InterruptLine}. A device raises an MSI by "writing" {@code data} to {@code address}; on x86 the
 * address names the local APIC(s) and the data the vector (see {@code io.vmguard.engine.MsiMessage}).
 *
 * <p>Devices depend on this, not on the engine, so they can be built and tested without a VM; the VMM
 * wires it to {@code VirtualMachine::signalMsi}. Any thread may call it; the values are guest-chosen,
 * so an implementation never throws for them.
 */
@FunctionalInterface
public interface MsiSink {
    void signal(long address, int data);

    /** A sink that drops every message, for devices built without one. */
    MsiSink NONE = (address, data) -> {};
}
