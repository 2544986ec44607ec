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

    @Override
    void close();
}
