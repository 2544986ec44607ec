package io.vmguard.engine.interp.platform;

import io.vmguard.engine.MsiMessage;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.time.Instant;
import java.util.function.LongSupplier;

/**
 * What KVM's in-kernel irqchip and PIT give one vCPU, for the interpreter: its local APIC (with its timer and
 * TSC deadline), its TSC and kvmclock, and its door to the {@link Chipset} the VM's CPUs share (the 8259A
 * pair, the I/O APIC, the 8254 PIT). The CPUs' APICs meet on the VM's {@link ApicBus}, which carries the I/O
 * APIC's messages, devices' MSIs and IPIs.
 *
 * <p><b>Wiring.</b> The PIC's INTR reaches the BSP through LINT0 (ExtINT, virtual wire) or directly while its
 * local APIC is disabled; application processors never see it (their LINT0 is masked from reset, as firmware
 * leaves it). Level-triggered EOIs go back to the I/O APIC.
 *
 * <p><b>Threads.</b> Everything here but the chipset belongs to the vCPU thread, which calls in for port I/O,
 * MMIO, MSRs, CR8 and interrupt acknowledge, and calls {@link #service()} between instructions to take line
 * changes (the chipset drains {@link InterruptInputs}), its APIC's inbox (other CPUs' IPIs, the I/O APIC's
 * messages, MSIs) and to fire timers. After every call {@link #interruptRequested()} is up to date, so the
 * vCPU's check before each instruction is one field read.
 *
 * <p><b>Time.</b> One {@link VmClock}; timers are not stepped but computed from it, and expire when
 * {@link #service()} finds their time passed. {@link #nextEvent()} tells a halted vCPU how long it may sleep.
 * The BSP fires the PIT, so its {@link #nextEvent()} includes it.
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

    /** Guest-physical memory writes for kvmclock; false when the address is not RAM. */
    @FunctionalInterface
    public interface Memory {
        boolean write(long address, int size, long value);
    }

    private final VmClock clock;
    private final int apicId;
    private final boolean bsp;
    private final Tsc tsc;
    private final Chipset chipset;
    private final LocalApic localApic;
    private final KvmClock kvmClock;
    private boolean interruptRequested;

    /** A one-CPU platform with a chipset of its own (tests, and a scratch platform for checks). */
    public Platform(VmClock clock, InterruptInputs inputs, Memory memory, int apicId) {
        this(clock, inputs, memory, apicId, Platform::wallClockNanos);
    }

    Platform(VmClock clock, InterruptInputs inputs, Memory memory, int apicId, LongSupplier wallNanos) {
        this(clock, chipsetFor(clock, inputs), memory, apicId, () -> { }, wallNanos);
    }

    private static Chipset chipsetFor(VmClock clock, InterruptInputs inputs) {
        return new Chipset(clock, inputs, new ApicBus());
    }

    /**
     * The platform of the CPU with APIC id {@code apicId} (0 is the BSP) on {@code chipset}'s VM;
     * {@code wake} rings its vCPU's doorbell when another thread posts to its APIC.
     */
    public Platform(VmClock clock, Chipset chipset, Memory memory, int apicId, Runnable wake) {
        this(clock, chipset, memory, apicId, wake, Platform::wallClockNanos);
    }

    private Platform(VmClock clock, Chipset chipset, Memory memory, int apicId, Runnable wake, LongSupplier wallNanos) {
        this.clock = clock;
        this.apicId = apicId;
        this.bsp = apicId == 0;
        this.tsc = new Tsc(clock);
        this.chipset = chipset;
        this.localApic = new LocalApic(clock, tsc, apicId, chipset::levelEoi, chipset.bus(), wake);
        this.kvmClock = new KvmClock(clock, tsc, memory::write, wallNanos);
        if (bsp) {
            chipset.onPicInterrupt(wake);
        }
    }

    private static long wallClockNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /**
     * A message-signalled interrupt (the engine's MsiMessage has the format): onto the APIC bus like an I/O
     * APIC message. MSIs are edge-triggered for every device we model, and a level-triggered vector would send
     * its EOI to the I/O APIC, which did not raise it.
     */
    public static void deliverMessage(ApicBus bus, long address, int data) {
        MsiMessage message = new MsiMessage(address, data);
        if (message.isInterrupt()) {
            bus.deliver(message.destination(), message.logicalDestination(), message.deliveryMode(), message.vector(),
                    false);
        }
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
        if (picReachesCpu()) {
            vector = chipset.acknowledgePic();
        } else if (localApic.hasInterrupt()) {
            vector = localApic.acknowledge();
        }
        update();
        return vector;
    }

    private boolean picReachesCpu() {
        return bsp && localApic.acceptsExtInt() && chipset.picIntr();
    }

    /** CR8: the task-priority class (TPR bits 7:4). */
    public int taskPriorityClass() {
        return localApic.tpr() >>> 4;
    }

    public void setTaskPriorityClass(int value) {
        localApic.setTpr((value & 0xf) << 4);
        update();
    }

    // ---- NMI, INIT and start-up IPIs: the CPU's to act on ----

    /** Whether an NMI, INIT or start-up IPI waits (after {@link #service()}). */
    public boolean signalsPending() {
        return localApic.signalsPending();
    }

    /** Whether an INIT arrived (forgotten once asked); the APIC has reset its registers if so. */
    public boolean takeInit() {
        if (!localApic.takeInit()) {
            return false;
        }
        localApic.init();
        update();
        return true;
    }

    /** The vector of a start-up IPI that arrived (forgotten once asked), or -1. */
    public int takeStartup() {
        return localApic.takeStartup();
    }

    /** Whether an NMI arrived (forgotten once asked). */
    public boolean takeNmi() {
        return localApic.takeNmi();
    }

    // ---- time ----

    /** Takes line changes and IPIs from other threads and fires due timers. Cheap when nothing happened. */
    public void service() {
        long now = clock.nanos();
        if (bsp || chipset.inputsChanged()) {
            chipset.service(now, bsp);
        }
        localApic.service(now);
        update();
    }

    /** The VM time of the next timer expiry, or {@link #NEVER}. */
    public long nextEvent() {
        long local = localApic.nextEvent();
        return bsp ? Math.min(chipset.nextEvent(), local) : local;
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
        return Chipset.claimsPort(port);
    }

    /** An IN from claimed ports, byte by byte (a wider access reads the following ports). */
    public long portIn(int port, int size) {
        long value = chipset.portIn(port, size);
        update();
        return value;
    }

    public void portOut(int port, int size, long value) {
        chipset.portOut(port, size, value, clock.nanos());
        fireDueTimers();
    }

    // ---- MMIO: local APIC page, I/O APIC window ----

    public boolean claimsMmio(long address) {
        return localApic.claims(address) || Chipset.claimsMmio(address);
    }

    public long mmioRead(long address, int size) {
        long value = localApic.claims(address)
                ? localApic.mmioRead((int) (address & 0xfff), size)
                : chipset.ioApicRead(address, size);
        update();
        return value;
    }

    public void mmioWrite(long address, int size, long value) {
        if (localApic.claims(address)) {
            localApic.mmioWrite((int) (address & 0xfff), size, value);
        } else {
            chipset.ioApicWrite(address, size, value);
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
        localApic.service(clock.nanos());
        update();
    }

    private void update() {
        localApic.takeInbox();
        interruptRequested = picReachesCpu() || localApic.hasInterrupt();
    }

    // ---- snapshot ----

    /**
     * Writes this CPU's devices (TSC, local APIC, kvmclock), timer instants relative to VM time {@code now}
     * (the instant the snapshot stands for), and with {@code withChipset} the shared chipset's too (the BSP's
     * tree carries it, as when there was one CPU). Line changes not yet taken stay in {@link InterruptInputs},
     * which the VM saves; {@link #interruptRequested()} is derived and not saved.
     */
    public void saveState(StateWriter out, long now, boolean withChipset) {
        localApic.takeInbox(); // what other CPUs posted is this APIC's IRR now
        out.save("tsc", tsc);
        localApic.saveState(out.child("local_apic"), now);
        if (withChipset) {
            chipset.saveState(out, now);
        }
        out.save("kvmclock", kvmClock);
    }

    /**
     * Throws what {@link #restoreState} would throw for {@code in}, and changes nothing: it restores into
     * a scratch platform (same APIC id, no memory, no inputs). Each device checks its whole state before
     * it takes any of it, but one device can fail after another took its state; this lets a restore check
     * all of them first.
     */
    public void checkState(StateReader in, long now, boolean withChipset) throws SnapshotException {
        new Platform(clock, new Chipset(clock, new InterruptInputs(() -> { }), new ApicBus()),
                (address, size, value) -> false, apicId, () -> { }).restoreState(in, now, withChipset);
    }

    /**
     * Restores what {@link #saveState} wrote, with {@code now} the VM time the clock continues from. On a
     * {@link SnapshotException} earlier devices may have taken their state already: {@link #checkState}
     * first, for all or nothing.
     */
    public void restoreState(StateReader in, long now, boolean withChipset) throws SnapshotException {
        in.restore("tsc", tsc);
        localApic.restoreState(in.child("local_apic"), now);
        if (withChipset) {
            chipset.restoreState(in, now);
        }
        in.restore("kvmclock", kvmClock);
        update();
    }

    // ---- for tests in this package ----

    DualPic pic() {
        return chipset.pic();
    }

    IoApic ioApic() {
        return chipset.ioApic();
    }

    LocalApic localApic() {
        return localApic;
    }
}
