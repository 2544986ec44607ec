package io.vmguard.engine;

/**
 * An x86 message-signalled interrupt as a device sends it: a 32-bit {@code data} written to
 * {@code address}. Writes into the 1 MiB window at 0xFEE00000 are interrupt messages (Intel SDM vol. 3,
 * "Message Signalled Interrupts"): address bits 19:12 name the destination APIC, bit 2 selects logical
 * destination mode; data bits 7:0 are the vector, 10:8 the delivery mode, bit 15 the trigger mode.
 * Anywhere else the write is an ordinary memory write, which vmguard does not perform for devices.
 */
public record MsiMessage(long address, int data) {
    public static final long INTERRUPT_WINDOW = 0xFEE0_0000L;
    public static final long INTERRUPT_WINDOW_SIZE = 1L << 20;

    public static final int DELIVERY_FIXED = 0;
    public static final int DELIVERY_LOWEST_PRIORITY = 1;

    /** Whether the message is an interrupt at all (the upper address dword must be zero too). */
    public boolean isInterrupt() {
        return (address & ~(INTERRUPT_WINDOW_SIZE - 1)) == INTERRUPT_WINDOW;
    }

    /** The destination APIC id (physical mode) or logical destination (logical mode). */
    public int destination() {
        return (int) (address >>> 12) & 0xff;
    }

    public boolean logicalDestination() {
        return (address & (1 << 2)) != 0;
    }

    public int vector() {
        return data & 0xff;
    }

    public int deliveryMode() {
        return (data >>> 8) & 7;
    }

    public boolean levelTriggered() {
        return (data & (1 << 15)) != 0;
    }
}
