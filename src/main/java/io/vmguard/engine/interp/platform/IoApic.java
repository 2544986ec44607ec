package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.Arrays;

/**
 * The I/O APIC at 0xfec00000 (version 0x11, 24 pins, like KVM's): IOREGSEL at offset 0x00 and IOWIN at
 * 0x10 reach the ID, version and arbitration registers and the 24 redirection entries. An entry sends
 * its vector to the local APIC(s) it addresses, edge-triggered on a rising input or level-triggered
 * with remote IRR: set on delivery, cleared by the local APIC's EOI of that vector, after which a
 * still-asserted input is delivered again.
 *
 * <p>Inputs are logical levels (asserted or not): the polarity bit is stored but, as in KVM and QEMU, does
 * not invert them. An edge that arrives while its entry is masked is lost. vCPU thread only.
 */
final class IoApic implements Snapshottable {
    static final long BASE = 0xfec0_0000L;
    /** The MMIO window KVM's I/O APIC claims. */
    static final int SIZE = 0x100;
    static final int PINS = 24;
    static final int VERSION = ((PINS - 1) << 16) | 0x11;

    private static final int SELECT = 0x00, WINDOW = 0x10;
    private static final int REGISTER_ID = 0x00, REGISTER_VERSION = 0x01, REGISTER_ARBITRATION = 0x02;
    private static final int REDIRECTION = 0x10;

    private static final long MASKED = 1L << 16;
    private static final long LEVEL = 1L << 15;
    private static final long REMOTE_IRR = 1L << 14;
    private static final long DELIVERY_STATUS = 1L << 12;
    private static final long READ_ONLY = REMOTE_IRR | DELIVERY_STATUS;
    private static final long ALL_PINS = (1L << PINS) - 1;

    /** Where the I/O APIC's messages go: the local APIC bus. */
    @FunctionalInterface
    interface ApicBus {
        void deliver(int destination, boolean logical, int deliveryMode, int vector, boolean levelTriggered);
    }

    private final ApicBus bus;
    private final long[] entries = new long[PINS];
    private int id;
    private int select;
    /** Inputs waiting for delivery: asserted level inputs, and edges not yet sent. */
    private int irr;
    private int levels;

    IoApic(ApicBus bus) {
        this.bus = bus;
        Arrays.fill(entries, MASKED);
    }

    static boolean claims(long address) {
        return address >= BASE && address < BASE + SIZE;
    }

    // ---- MMIO ----

    long mmioRead(int offset, int size) {
        long value = switch (offset & ~3) {
            case SELECT -> select;
            case WINDOW -> readRegister(select) & 0xffff_ffffL;
            default -> 0;
        };
        value >>>= 8 * (offset & 3);
        return size >= 8 ? value : value & ((1L << (8 * size)) - 1);
    }

    void mmioWrite(int offset, int size, long value) {
        int data = (int) (size == 1 ? value & 0xff : size == 2 ? value & 0xffff : value);
        switch (offset) {
            case SELECT -> select = data & 0xff;
            case WINDOW -> writeRegister(select, data);
            default -> { }
        }
    }

    int readRegister(int register) {
        return switch (register) {
            case REGISTER_ID, REGISTER_ARBITRATION -> id << 24;
            case REGISTER_VERSION -> VERSION;
            default -> {
                int pin = (register - REDIRECTION) >> 1;
                if (register < REDIRECTION || pin >= PINS) {
                    yield 0xffff_ffff;
                }
                long entry = entries[pin];
                yield (int) ((register & 1) == 0 ? entry : entry >>> 32);
            }
        };
    }

    void writeRegister(int register, int value) {
        if (register == REGISTER_ID) {
            id = (value >>> 24) & 0xf;
            return;
        }
        int pin = (register - REDIRECTION) >> 1;
        if (register < REDIRECTION || pin >= PINS) {
            return;
        }
        long old = entries[pin];
        long entry = (register & 1) == 0
                ? (old & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL)
                : (old & 0xffff_ffffL) | ((long) value << 32);
        entry = (entry & ~READ_ONLY) | (old & REMOTE_IRR);
        if ((entry & LEVEL) == 0) {
            // Linux relies on this: turning an entry to edge clears a stuck remote IRR (the I/O APIC has no EOI register).
            entry &= ~REMOTE_IRR;
        }
        entries[pin] = entry;
        if ((entry & LEVEL) != 0) {
            service(pin); // unmasking an asserted level input delivers it
        }
    }

    long entry(int pin) {
        return entries[pin];
    }

    // ---- inputs ----

    void setIrq(int pin, boolean level) {
        int bit = 1 << pin;
        boolean rising = level && (levels & bit) == 0;
        levels = level ? levels | bit : levels & ~bit;
        if (!level) {
            irr &= ~bit;
            return;
        }
        if ((entries[pin] & LEVEL) == 0 && !rising) {
            return;
        }
        irr |= bit;
        service(pin);
    }

    void pulse(int pin) {
        setIrq(pin, true);
        setIrq(pin, false);
    }

    private void service(int pin) {
        int bit = 1 << pin;
        long entry = entries[pin];
        boolean levelTriggered = (entry & LEVEL) != 0;
        if ((irr & bit) == 0 || (entry & MASKED) != 0 || (levelTriggered && (entry & REMOTE_IRR) != 0)) {
            return;
        }
        if (levelTriggered) {
            entries[pin] = entry | REMOTE_IRR;
        } else {
            irr &= ~bit;
        }
        bus.deliver((int) (entry >>> 56), (entry & (1L << 11)) != 0, (int) (entry >>> 8) & 7, (int) entry & 0xff, levelTriggered);
    }

    /** The local APIC's EOI of a level-triggered {@code vector}: clear remote IRR, resend what is still asserted. */
    void eoi(int vector) {
        for (int pin = 0; pin < PINS; pin++) {
            long entry = entries[pin];
            if ((entry & 0xff) == vector && (entry & LEVEL) != 0 && (entry & REMOTE_IRR) != 0) {
                entries[pin] = entry & ~REMOTE_IRR;
                service(pin);
            }
        }
    }

    // ---- snapshot ----

    /** The registers, the 24 redirection entries (64 bits each, remote IRR included) and the inputs. */
    @Override
    public void saveState(StateWriter out) {
        out.putLong("id", id);
        out.putLong("select", select);
        out.putLong("irr", irr);
        out.putLong("levels", levels);
        out.putLongs("redirection", entries);
    }

    /**
     * Restores what {@link #saveState} wrote. Delivery status is never set (messages go out at once), and
     * remote IRR only on level-triggered entries: a write to edge clears it.
     */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        int ioApicId = in.getInt("id", 0, 0xf);
        int selected = in.getInt("select", 0, 0xff);
        int requests = (int) SnapshotFields.bits(in, "irr", ALL_PINS);
        int inputs = (int) SnapshotFields.bits(in, "levels", ALL_PINS);
        long[] redirection = in.getLongs("redirection", PINS);
        for (int pin = 0; pin < PINS; pin++) {
            long entry = redirection[pin];
            if ((entry & DELIVERY_STATUS) != 0 || ((entry & REMOTE_IRR) != 0 && (entry & LEVEL) == 0)) {
                throw SnapshotFields.invalid(in, "redirection." + pin, "0x" + Long.toHexString(entry)
                        + ": delivery status set, or remote IRR on an edge-triggered entry");
            }
        }
        id = ioApicId;
        select = selected;
        irr = requests;
        levels = inputs;
        System.arraycopy(redirection, 0, entries, 0, PINS);
    }
}
