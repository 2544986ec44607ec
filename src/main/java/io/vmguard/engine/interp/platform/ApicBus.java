package io.vmguard.engine.interp.platform;

import java.util.Arrays;

/**
 * The wire between a VM's interrupt sources and its local APICs: the I/O APIC's messages, devices' MSIs and
 * the IPIs one CPU's APIC sends another all come here, are matched against every APIC's destination
 * registers (physical or logical, or an ICR shorthand) and land in each addressed APIC's inbox.
 *
 * <p>Any thread. An APIC that sends to itself is on its own thread and takes the message at once (as a
 * self-IPI must be visible to the next instruction); every other delivery is posted, and the owner takes it
 * at its next look ({@link LocalApic#post}).
 *
 * <p>Lowest-priority messages go to one of the addressed APICs: the first by APIC id, a fixed choice that
 * the SDM allows (arbitration is model-specific) and that keeps an interrupt on the CPU Linux aimed it at
 * when it addresses one.
 */
public final class ApicBus implements IoApic.ApicBus {
    static final int FIXED = 0, LOWEST = 1, SMI = 2, NMI = 4, INIT = 5, STARTUP = 6, EXTINT = 7;
    /** ICR destination shorthands (bits 19:18). */
    static final int NO_SHORTHAND = 0, SELF = 1, ALL_INCLUDING_SELF = 2, ALL_EXCLUDING_SELF = 3;

    /** Replaced whole, never changed in place: deliveries read it without a lock. */
    private volatile LocalApic[] apics = new LocalApic[0];

    /** Connects an APIC; its CPU's messages may arrive from now on. */
    synchronized void attach(LocalApic apic) {
        LocalApic[] next = Arrays.copyOf(apics, apics.length + 1);
        next[next.length - 1] = apic;
        Arrays.sort(next, (a, b) -> Integer.compare(a.initialId(), b.initialId()));
        apics = next;
    }

    /** A message from the I/O APIC or a device's MSI: no sender, no shorthand. */
    @Override
    public void deliver(int destination, boolean logical, int deliveryMode, int vector, boolean levelTriggered) {
        route(null, destination, logical, NO_SHORTHAND, deliveryMode, vector, levelTriggered);
    }

    /** An IPI {@code from} sends through its ICR. */
    void sendIpi(LocalApic from, int destination, boolean logical, int shorthand, int deliveryMode, int vector,
                 boolean levelTriggered) {
        route(from, destination, logical, shorthand, deliveryMode, vector, levelTriggered);
    }

    private void route(LocalApic from, int destination, boolean logical, int shorthand, int deliveryMode, int vector,
                       boolean levelTriggered) {
        for (LocalApic apic : apics) {
            boolean addressed = switch (shorthand) {
                case NO_SHORTHAND -> apic.isDestination(destination, logical);
                case SELF -> apic == from;
                case ALL_INCLUDING_SELF -> true;
                default -> apic != from;
            };
            if (!addressed) {
                continue;
            }
            if (apic == from) {
                apic.receive(deliveryMode, vector, levelTriggered);
            } else {
                apic.post(deliveryMode, vector, levelTriggered);
            }
            if (deliveryMode == LOWEST) {
                return; // one CPU takes it
            }
        }
    }

    /** How many APICs are connected. */
    int size() {
        return apics.length;
    }
}
