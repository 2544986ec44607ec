package io.vmguard.engine.interp.platform;

import io.vmguard.engine.MsiMessage;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.time.Instant;
import java.util.function.LongSupplier;

/**
 * What KVM's in-kernel irqchip and PIT give a vCPU, for the interpreter: the local APIC (with its timer
 * and TSC deadline), the 8259A pair, the I/O APIC, the 8254 PIT with port 0x61, the TSC and kvmclock,
 * wired as on a PC, around one CPU.
 *
 * <p><b>Wiring.</b> GSIs 0-15 drive the PIC (IRQ 2 is its cascade) and GSIs 0-23 the I/O APIC pins with
 * the same number. The PIT's OUT 0 drives PIC IRQ 0 and I/O APIC pin 2, so an ACPI MADT must carry the
 * usual interrupt source override (ISA IRQ 0 to GSI 2). The PIC's INTR reaches the CPU through LINT0
 * (ExtINT, virtual wire) or directly while the local APIC is disabled; the I/O APIC sends fixed and
 * lowest-priority messages to the local APIC, which broadcasts level-triggered EOIs back to it. Devices'
 * message-signalled interrupts go to the local APIC directly.
 *
 * <p><b>Threads.</b> Everything here belongs to the vCPU thread, which calls in for port I/O, MMIO,
 * MSRs, CR8 and interrupt acknowledge, and calls {@link #service()} between instructions to take line
 * changes and message-signalled interrupts from {@link InterruptInputs} (the only part other threads
 * touch) and to fire timers. After every call {@link #interruptRequested()} is up to date, so the vCPU's
 * check before each instruction is one field read.
 *
 * <p><b>Time.</b> One {@link VmClock}; timers are not stepped but computed from it, and expire when
 * {@link #service()} finds their time passed. {@link #nextEvent()} tells a halted vCPU how long it may sleep.
 */
public final class Platform {
    /** TSC ticks per second (the TSC counts VM nanoseconds). */
    public static final long TSC_HZ = Tsc.HZ;
    /** The local APIC timer's input clock (the APIC bus, and the crystal of CPUID leaf 0x15). */
    public static final long APIC_BUS_HZ = ApicTimer.BUS_HZ;
    /** No timer is armed. */
    public static final long NEVER = Long.MAX_VALUE;

    public static final int MSR_APIC_BASE = 0x1b;
    public static final int MSR_TSC_DEADLINE = 0x6e0;

    private static final int PIT_IOAPIC_PIN = 2;
    private static final int PIC_LINES = 16;

    /** Guest-physical memory writes for kvmclock; false when the address is not RAM. */
    @FunctionalInterface
    public interface Memory {
        boolean write(long address, int size, long value);
    }

    private final VmClock clock;
    private final int apicId;
    private final Tsc tsc;
    private final InterruptInputs inputs;
    private final DualPic pic = new DualPic();
    private final IoApic ioApic;
    private final LocalApic localApic;
    private final Pit8254 pit;
    private final KvmClock kvmClock;
    private final InterruptInputs.Sink lineSink = this::setLine;
    private final InterruptInputs.MessageSink messageSink = this::deliverMessage;
    private boolean interruptRequested;

    public Platform(VmClock clock, InterruptInputs inputs, Memory memory, int apicId) {
        this(clock, inputs, memory, apicId, Platform::wallClockNanos);
    }

    Platform(VmClock clock, InterruptInputs inputs, Memory memory, int apicId, LongSupplier wallNanos) {
        this.clock = clock;
        this.apicId = apicId;
        this.tsc = new Tsc(clock);
        this.inputs = inputs;
        this.localApic = new LocalApic(clock, tsc, apicId, this::levelEoi);
        this.ioApic = new IoApic(localApic::deliver);
        this.pit = new Pit8254(clock, () -> {
            pic.pulse(0);
            ioApic.pulse(PIT_IOAPIC_PIN);
        });
        this.kvmClock = new KvmClock(clock, tsc, memory::write, wallNanos);
    }

    private static long wallClockNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    private void levelEoi(int vector) {
        ioApic.eoi(vector);
    }

    private void setLine(int gsi, boolean level) {
        if (gsi < PIC_LINES) {
            pic.setIrq(gsi, level);
        }
        ioApic.setIrq(gsi, level);
    }

    /**
     * A message-signalled interrupt (the engine's MsiMessage has the format): fixed and lowest-priority
     * messages go to the local APIC like an I/O APIC message. MSIs are edge-triggered for every device we
     * model, and a level-triggered vector would send its EOI to the I/O APIC, which did not raise it.
     */
    private void deliverMessage(long address, int data) {
        MsiMessage message = new MsiMessage(address, data);
        localApic.deliver(message.destination(), message.logicalDestination(), message.deliveryMode(),
                message.vector(), false);
    }

    // ---- the CPU's side ----

    /**
     * Whether an interrupt waits for the CPU: the PIC's INTR where it reaches the CPU, or a local APIC
     * vector above the processor priority. The CPU takes it when RFLAGS.IF allows.
     */
    public boolean interruptRequested() {
        return interruptRequested;
    }

    /** The interrupt-acknowledge cycle: the vector to deliver, or -1 when nothing is requested. ExtINT goes first. */
    public int acknowledge() {
        int vector = -1;
        if (localApic.acceptsExtInt() && pic.intr()) {
            vector = pic.acknowledge();
        } else if (localApic.hasInterrupt()) {
            vector = localApic.acknowledge();
        }
        update();
        return vector;
    }

    /** CR8: the task-priority class (TPR bits 7:4). */
    public int taskPriorityClass() {
        return localApic.tpr() >>> 4;
    }

    public void setTaskPriorityClass(int value) {
        localApic.setTpr((value & 0xf) << 4);
        update();
    }

    // ---- time ----

    /** Takes line changes from other threads and fires due timers. Cheap when nothing happened. */
    public void service() {
        if (inputs.changed()) {
            inputs.drain(lineSink, messageSink);
        }
        fireDueTimers();
    }

    /** The VM time of the next timer expiry, or {@link #NEVER}. */
    public long nextEvent() {
        return Math.min(pit.nextEvent(), localApic.nextEvent());
    }

    public VmClock clock() {
        return clock;
    }

    public long tsc() {
        return tsc.read();
    }

    public void setTsc(long value) {
        tsc.write(value);
        localApic.tscChanged();
        kvmClock.tscChanged();
    }

    // ---- port I/O: PIC, ELCR, PIT, port 0x61 ----

    public static boolean claimsPort(int port) {
        return DualPic.claims(port) || Pit8254.claims(port);
    }

    /** An IN from claimed ports, byte by byte (a wider access reads the following ports). */
    public long portIn(int port, int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            int p = port + i;
            int b = DualPic.claims(p) ? pic.read(p) : Pit8254.claims(p) ? pit.read(p) : 0xff;
            value |= (long) (b & 0xff) << (8 * i);
        }
        update();
        return value;
    }

    public void portOut(int port, int size, long value) {
        for (int i = 0; i < size; i++) {
            int p = port + i;
            int b = (int) (value >>> (8 * i)) & 0xff;
            if (DualPic.claims(p)) {
                pic.write(p, b);
            } else if (Pit8254.claims(p)) {
                pit.write(p, b);
            }
        }
        fireDueTimers();
    }

    // ---- MMIO: local APIC page, I/O APIC window ----

    public boolean claimsMmio(long address) {
        return localApic.claims(address) || IoApic.claims(address);
    }

    public long mmioRead(long address, int size) {
        long value = localApic.claims(address)
                ? localApic.mmioRead((int) (address & 0xfff), size)
                : ioApic.mmioRead((int) (address - IoApic.BASE), size);
        update();
        return value;
    }

    public void mmioWrite(long address, int size, long value) {
        if (localApic.claims(address)) {
            localApic.mmioWrite((int) (address & 0xfff), size, value);
        } else {
            ioApic.mmioWrite((int) (address - IoApic.BASE), size, value);
        }
        fireDueTimers();
    }

    // ---- MSRs: IA32_APIC_BASE, IA32_TSC_DEADLINE, kvmclock ----

    public static boolean claimsMsr(int index) {
        return index == MSR_APIC_BASE || index == MSR_TSC_DEADLINE || KvmClock.claims(index);
    }

    public long readMsr(int index) {
        return switch (index) {
            case MSR_APIC_BASE -> localApic.base();
            case MSR_TSC_DEADLINE -> localApic.tscDeadline();
            default -> kvmClock.read(index);
        };
    }

    /** Writes a claimed MSR; false when the value is invalid (the guest takes #GP). */
    public boolean writeMsr(int index, long value) {
        boolean ok = true;
        switch (index) {
            case MSR_APIC_BASE -> ok = localApic.setBase(value);
            case MSR_TSC_DEADLINE -> localApic.setTscDeadline(value);
            default -> kvmClock.write(index, value);
        }
        fireDueTimers();
        return ok;
    }

    /** After the guest programs a timer: one already due (a deadline in the past) fires before the next instruction. */
    private void fireDueTimers() {
        long now = clock.nanos();
        pit.service(now);
        localApic.service(now);
        update();
    }

    private void update() {
        interruptRequested = (localApic.acceptsExtInt() && pic.intr()) || localApic.hasInterrupt();
    }

    // ---- snapshot ----

    /**
     * Writes every device's state, timer instants relative to VM time {@code now} (the instant the
     * snapshot stands for). Line changes and messages not yet taken stay in {@link InterruptInputs},
     * which the VM saves; {@link #interruptRequested()} is derived and not saved.
     */
    public void saveState(StateWriter out, long now) {
        out.save("tsc", tsc);
        localApic.saveState(out.child("local_apic"), now);
        out.save("io_apic", ioApic);
        out.save("pic", pic);
        pit.saveState(out.child("pit"), now);
        out.save("kvmclock", kvmClock);
    }

    /**
     * Throws what {@link #restoreState} would throw for {@code in}, and changes nothing: it restores into
     * a scratch platform (same APIC id, no memory, no inputs). Each device checks its whole state before
     * it takes any of it, but one device can fail after another took its state; this lets a restore check
     * all of them first.
     */
    public void checkState(StateReader in, long now) throws SnapshotException {
        new Platform(clock, new InterruptInputs(() -> { }), (address, size, value) -> false, apicId).restoreState(in, now);
    }

    /**
     * Restores what {@link #saveState} wrote, with {@code now} the VM time the clock continues from. On a
     * {@link SnapshotException} earlier devices may have taken their state already: {@link #checkState}
     * first, for all or nothing.
     */
    public void restoreState(StateReader in, long now) throws SnapshotException {
        in.restore("tsc", tsc);
        localApic.restoreState(in.child("local_apic"), now);
        in.restore("io_apic", ioApic);
        in.restore("pic", pic);
        pit.restoreState(in.child("pit"), now);
        in.restore("kvmclock", kvmClock);
        update();
    }

    // ---- for tests in this package ----

    DualPic pic() {
        return pic;
    }

    IoApic ioApic() {
        return ioApic;
    }

    LocalApic localApic() {
        return localApic;
    }
}
