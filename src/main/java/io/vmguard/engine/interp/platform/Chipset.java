package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;

/**
 * The part of a PC every CPU shares: the 8259A pair, the I/O APIC and the 8254 PIT (with port 0x61), and the
 * interrupt lines devices drive ({@link InterruptInputs}), wired as on a PC. GSIs 0-15 drive the PIC (IRQ 2 is
 * its cascade) and GSIs 0-23 the I/O APIC pins with the same number; the PIT's OUT 0 drives PIC IRQ 0 and I/O
 * APIC pin 2 (the MADT's interrupt source override). The I/O APIC's messages go out on the {@link ApicBus}; the
 * PIC's INTR reaches the BSP only, through its LINT0 ({@link Platform}).
 *
 * <p><b>Threads.</b> Every vCPU may program these devices, and the line changes may be drained by any of them:
 * one lock, which no hot path takes (port I/O to the PIC or PIT, MMIO to the I/O APIC, a line change, an EOI of
 * a level-triggered vector, and each vCPU's periodic look). The PIT's timer is the BSP's to fire.
 */
public final class Chipset {
    private static final int PIT_IOAPIC_PIN = 2;
    private static final int PIC_LINES = 16;

    private final InterruptInputs inputs;
    private final ApicBus bus;
    private final DualPic pic = new DualPic();
    private final IoApic ioApic;
    private final Pit8254 pit;
    private final InterruptInputs.Sink lineSink = this::setLine;
    private final InterruptInputs.MessageSink messageSink;
    /** The PIC's INTR, for the BSP's look without the lock; the bell rings it when INTR rises. */
    private volatile boolean picIntr;
    private volatile Runnable picWake = () -> { };

    /**
     * @param inputs the VM's interrupt lines
     * @param bus    where the I/O APIC's messages (and messages that still wait in {@code inputs}) go
     */
    public Chipset(VmClock clock, InterruptInputs inputs, ApicBus bus) {
        this.inputs = inputs;
        this.bus = bus;
        this.ioApic = new IoApic(bus);
        this.messageSink = (address, data) -> Platform.deliverMessage(bus, address, data);
        this.pit = new Pit8254(clock, () -> {
            pic.pulse(0);
            ioApic.pulse(PIT_IOAPIC_PIN);
        });
    }

    /** The bus the VM's local APICs meet on. */
    ApicBus bus() {
        return bus;
    }

    /** Who hears that the PIC raised INTR: the BSP's doorbell. */
    void onPicInterrupt(Runnable wake) {
        this.picWake = wake;
    }

    private void setLine(int gsi, boolean level) {
        if (gsi < PIC_LINES) {
            pic.setIrq(gsi, level);
        }
        ioApic.setIrq(gsi, level);
    }

    /** Whether devices changed a line since the last drain (one volatile read, no lock). */
    boolean inputsChanged() {
        return inputs.changed();
    }

    /** Takes the line changes; with {@code firesTimers} (the BSP), fires the PIT if due by {@code now}. */
    synchronized void service(long now, boolean firesTimers) {
        if (inputs.changed()) {
            inputs.drain(lineSink, messageSink);
        }
        if (firesTimers) {
            pit.service(now);
        }
        updateIntr();
    }

    synchronized long nextEvent() {
        return pit.nextEvent();
    }

    boolean picIntr() {
        return picIntr;
    }

    /** The PIC's interrupt-acknowledge cycle (a spurious vector if INTR fell meanwhile). */
    synchronized int acknowledgePic() {
        int vector = pic.acknowledge();
        updateIntr();
        return vector;
    }

    private void updateIntr() {
        boolean was = picIntr;
        picIntr = pic.intr();
        if (picIntr && !was) {
            picWake.run();
        }
    }

    // ---- port I/O: PIC, ELCR, PIT, port 0x61 ----

    static boolean claimsPort(int port) {
        return DualPic.claims(port) || Pit8254.claims(port);
    }

    synchronized long portIn(int port, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            int p = port + i;
            int b = DualPic.claims(p) ? pic.read(p) : Pit8254.claims(p) ? pit.read(p) : 0xff;
            value |= (long) (b & 0xff) << (8 * i);
        }
        updateIntr();
        return value;
    }

    synchronized void portOut(int port, int size, long value, long now) {
        for (int i = 0; i < size; i++) {
            int p = port + i;
            int b = (int) (value >>> (8 * i)) & 0xff;
            if (DualPic.claims(p)) {
                pic.write(p, b);
            } else if (Pit8254.claims(p)) {
                pit.write(p, b);
            }
        }
        pit.service(now); // a count programmed into the past fires now
        updateIntr();
    }

    // ---- the I/O APIC window ----

    static boolean claimsMmio(long address) {
        return IoApic.claims(address);
    }

    synchronized long ioApicRead(long address, int size) {
        return ioApic.mmioRead((int) (address - IoApic.BASE), size);
    }

    synchronized void ioApicWrite(long address, int size, long value) {
        ioApic.mmioWrite((int) (address - IoApic.BASE), size, value);
    }

    /** A local APIC's EOI of a level-triggered vector, broadcast to the I/O APIC's remote IRR. */
    synchronized void levelEoi(int vector) {
        ioApic.eoi(vector);
    }

    // ---- snapshot ----

    /** The I/O APIC, the PIC and the PIT (instants relative to VM time {@code now}), into the platform's tree. */
    synchronized void saveState(StateWriter out, long now) {
        out.save("io_apic", ioApic);
        out.save("pic", pic);
        pit.saveState(out.child("pit"), now);
    }

    synchronized void restoreState(StateReader in, long now) throws SnapshotException {
        in.restore("io_apic", ioApic);
        in.restore("pic", pic);
        pit.restoreState(in.child("pit"), now);
        updateIntr();
    }

    // ---- for tests in this package ----

    DualPic pic() {
        return pic;
    }

    IoApic ioApic() {
        return ioApic;
    }
}
