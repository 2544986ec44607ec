package io.vmguard.bus;

/**
 * A device's interrupt wire to the guest's interrupt controller. Devices raise and lower it; the engine
 * behind it (KVM's in-kernel irqchip, or the interpreter's APICs) decides delivery.
 */
public interface InterruptLine {
    /** Drives the line: true asserts it (level-triggered), false deasserts it. */
    void set(boolean asserted);

    /** An edge: assert then deassert, for edge-triggered inputs such as the legacy ISA lines. */
    default void pulse() {
        set(true);
        set(false);
    }

    /** A line wired to nothing, for devices built without an interrupt. */
    InterruptLine NONE = asserted -> {};
}
