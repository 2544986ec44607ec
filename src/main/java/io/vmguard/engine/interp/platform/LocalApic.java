package io.vmguard.engine.interp.platform;

import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntConsumer;

/**
 * The local APIC of one vCPU, in xAPIC mode: its registers as the MMIO page at IA32_APIC_BASE shows them,
 * fixed-interrupt acceptance (IRR, ISR, TMR) with TPR/PPR priority, EOI (broadcast to the I/O APIC for
 * level-triggered vectors), the ICR for IPIs (fixed, lowest priority, NMI, INIT and start-up; physical and
 * logical destinations and the shorthands) through the VM's {@link ApicBus}, the LVT entries, ESR, and the
 * timer ({@link ApicTimer}). LINT0 in ExtINT mode passes the PIC through ({@link #acceptsExtInt()}).
 *
 * <p><b>Threads.</b> The registers belong to the vCPU thread. Other CPUs and the I/O APIC reach this APIC
 * only through its inbox ({@link #post}: lock-free, any thread), which the owner empties into IRR and its
 * start-up signals at its next look ({@link #takeInbox()}), after which the poster rang its doorbell. The
 * destination registers (ID, LDR, DFR) are volatile so that senders match against what the guest last wrote.
 *
 * <p>Not modelled: x2APIC (not advertised), SMI, LINT0/LINT1 in fixed mode, thermal and
 * performance-counter interrupts.
 */
final class LocalApic {
    static final long DEFAULT_BASE = 0xfee0_0000L;
    static final long BASE_BSP = 1L << 8;
    static final long BASE_ENABLE = 1L << 11;
    /** x2APIC enable (not supported) and reserved bits; the address has 40 bits like the CPU's (CPUID 0x80000008). */
    private static final long BASE_WRITABLE = 0x0000_00ff_ffff_f000L | BASE_ENABLE | BASE_BSP;
    private static final long BASE_ADDRESS = 0x0000_00ff_ffff_f000L;

    /** Version 0x14 (integrated APIC), six LVT entries (max LVT index 5): what KVM reports. */
    static final int VERSION = 0x0005_0014;

    static final int ID = 0x20, VERSION_REGISTER = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0;
    static final int LDR = 0xd0, DFR = 0xe0, SVR = 0xf0, ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280;
    static final int LVT_CMCI = 0x2f0, ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_THERMAL = 0x330;
    static final int LVT_PERF = 0x340, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370;
    static final int TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0;

    static final int LVT_MASKED = 1 << 16;
    static final int SVR_ENABLE = 1 << 8;
    private static final int DELIVERY_FIXED = 0, DELIVERY_LOWEST = 1, DELIVERY_EXTINT = 7;
    private static final int TIMER_MODE_SHIFT = 17;
    private static final int ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
    private static final int ESR_BITS = ESR_SEND_ILLEGAL_VECTOR | ESR_RECEIVE_ILLEGAL_VECTOR;
    /** The bits of each LVT entry a write can set (and the mask bit). */
    private static final int LVT_TIMER_BITS = 0x0006_00ff | LVT_MASKED, LVT_VECTOR_BITS = 0x0000_00ff | LVT_MASKED;
    private static final int LVT_DELIVERY_BITS = 0x0000_07ff | LVT_MASKED, LVT_LINT_BITS = 0x0000_a7ff | LVT_MASKED;
    private static final int ICR_LOW_BITS = ~(1 << 12), HIGH_BYTE = 0xff00_0000;

    private final VmClock clock;
    private final ApicTimer timer;
    private final int initialId;
    private final boolean bsp;
    /** Level-triggered vectors' EOIs go here (the I/O APIC's remote IRR). */
    private final IntConsumer eoiBroadcast;
    private final ApicBus bus;
    /** Gets the owner's attention after a post (its vCPU's doorbell). */
    private final Runnable wake;

    // The inbox: fixed vectors and their trigger modes, NMI/INIT/SIPI, from any thread.
    private final AtomicLongArray postedVectors = new AtomicLongArray(4);
    private final AtomicLongArray postedLevels = new AtomicLongArray(4);
    private static final int POSTED_NMI = 1, POSTED_INIT = 2, POSTED_STARTUP = 4, POSTED_VECTORS = 8;
    /** POSTED_* bits, and the last start-up vector in bits 15:8. */
    private final AtomicInteger posted = new AtomicInteger();

    // What the inbox delivered that the CPU itself must act on (owner only).
    private boolean nmiPending;
    private boolean initPending;
    private int startupVector = -1;

    private volatile long base;
    private volatile int id;
    private int tpr;
    private volatile int ldr;
    private volatile int dfr;
    private volatile int svr;
    private final int[] isr = new int[8];
    private final int[] tmr = new int[8];
    private final int[] irr = new int[8];
    private int esr;
    private int esrPending;
    private int icrLow;
    private int icrHigh;
    private int lvtTimer, lvtThermal, lvtPerf, lvtLint0, lvtLint1, lvtError, lvtCmci;

    /** A lone APIC (tests): a bus of its own, nobody to wake. */
    LocalApic(VmClock clock, Tsc tsc, int apicId, IntConsumer eoiBroadcast) {
        this(clock, tsc, apicId, eoiBroadcast, new ApicBus(), () -> { });
    }

    /** The APIC of the CPU with {@code apicId} (0 is the BSP), connected to {@code bus}. */
    LocalApic(VmClock clock, Tsc tsc, int apicId, IntConsumer eoiBroadcast, ApicBus bus, Runnable wake) {
        this.clock = clock;
        this.timer = new ApicTimer(tsc);
        this.initialId = apicId;
        this.bsp = apicId == 0;
        this.eoiBroadcast = eoiBroadcast;
        this.bus = bus;
        this.wake = wake;
        base = DEFAULT_BASE | BASE_ENABLE | (bsp ? BASE_BSP : 0);
        reset();
        bus.attach(this);
    }

    int initialId() {
        return initialId;
    }

    /** Power-on state of the registers (IA32_APIC_BASE aside). */
    private void reset() {
        id = initialId;
        tpr = 0;
        ldr = 0;
        dfr = 0xffff_ffff;
        svr = 0xff;
        Arrays.fill(isr, 0);
        Arrays.fill(tmr, 0);
        Arrays.fill(irr, 0);
        esr = 0;
        esrPending = 0;
        icrLow = 0;
        icrHigh = 0;
        lvtTimer = lvtThermal = lvtPerf = lvtLint1 = lvtError = lvtCmci = LVT_MASKED;
        // The BSP comes up in virtual-wire mode (LINT0 as ExtINT), as firmware leaves it and KVM resets it.
        lvtLint0 = bsp ? DELIVERY_EXTINT << 8 : LVT_MASKED;
        timer.setMode(ApicTimer.Mode.ONE_SHOT);
        timer.setInitialCount(0, clock.nanos());
        timer.setDivideConfiguration(0, clock.nanos());
    }

    // ---- IA32_APIC_BASE ----

    long base() {
        return base;
    }

    /** Sets IA32_APIC_BASE; false (#GP) for reserved bits or x2APIC. Disabling the APIC resets it. */
    boolean setBase(long value) {
        if ((value & ~BASE_WRITABLE) != 0) {
            return false;
        }
        long next = (value & ~BASE_BSP) | (base & BASE_BSP); // the BSP flag is the hardware's to set
        if (((next ^ base) & BASE_ENABLE) != 0) {
            reset();
        }
        base = next;
        return true;
    }

    boolean hardwareEnabled() {
        return (base & BASE_ENABLE) != 0;
    }

    boolean softwareEnabled() {
        return (svr & SVR_ENABLE) != 0;
    }

    /** Whether a physical address falls in the APIC's MMIO page (when the APIC is enabled). */
    boolean claims(long address) {
        return hardwareEnabled() && (address & ~0xfffL) == (base & BASE_ADDRESS);
    }

    // ---- MMIO ----

    /** A read of {@code size} bytes at {@code offset} in the page: registers are 32 bits at 16-byte strides. */
    long mmioRead(int offset, int size) {
        int within = offset & 0xf;
        if (within >= 4) {
            return 0;
        }
        long value = (read(offset & 0xff0) & 0xffff_ffffL) >>> (8 * within);
        return size >= 8 ? value : value & ((1L << (8 * size)) - 1);
    }

    /** Only aligned 32-bit writes reach a register (the SDM requires them; KVM drops the others too). */
    void mmioWrite(int offset, int size, long value) {
        if (size == 4 && (offset & 0xf) == 0) {
            write(offset, (int) value);
        }
    }

    int read(int register) {
        if (register >= ISR && register < ISR + 0x80) {
            return isr[(register - ISR) >> 4];
        }
        if (register >= TMR && register < TMR + 0x80) {
            return tmr[(register - TMR) >> 4];
        }
        if (register >= IRR && register < IRR + 0x80) {
            return irr[(register - IRR) >> 4];
        }
        return switch (register) {
            case ID -> id << 24;
            case VERSION_REGISTER -> VERSION;
            case TPR -> tpr;
            case PPR -> ppr();
            case LDR -> ldr;
            case DFR -> dfr;
            case SVR -> svr;
            case ESR -> esr;
            case ICR_LOW -> icrLow; // delivery status (bit 12) always idle: IPIs are delivered at once
            case ICR_HIGH -> icrHigh;
            case LVT_TIMER -> lvtTimer;
            case LVT_THERMAL -> lvtThermal;
            case LVT_PERF -> lvtPerf;
            case LVT_LINT0 -> lvtLint0;
            case LVT_LINT1 -> lvtLint1;
            case LVT_ERROR -> lvtError;
            case LVT_CMCI -> lvtCmci;
            case TIMER_INITIAL -> (int) timer.initialCount();
            case TIMER_CURRENT -> (int) timer.currentCount(clock.nanos());
            case TIMER_DIVIDE -> timer.divideConfiguration();
            default -> 0; // APR, RRD, EOI and reserved registers
        };
    }

    void write(int register, int value) {
        switch (register) {
            case ID -> id = value >>> 24;
            case TPR -> tpr = value & 0xff;
            case EOI -> eoi();
            case LDR -> ldr = value & HIGH_BYTE;
            case DFR -> dfr = value | 0x0fff_ffff;
            case SVR -> setSvr(value);
            case ESR -> { // a write makes the errors gathered since the last write readable
                esr = esrPending;
                esrPending = 0;
            }
            case ICR_LOW -> {
                icrLow = value & ICR_LOW_BITS;
                sendIpi();
            }
            case ICR_HIGH -> icrHigh = value & HIGH_BYTE;
            case LVT_TIMER -> {
                lvtTimer = lvt(value, LVT_TIMER_BITS);
                timer.setMode(timerMode(lvtTimer));
            }
            case LVT_THERMAL -> lvtThermal = lvt(value, LVT_DELIVERY_BITS);
            case LVT_PERF -> lvtPerf = lvt(value, LVT_DELIVERY_BITS);
            case LVT_LINT0 -> lvtLint0 = lvt(value, LVT_LINT_BITS);
            case LVT_LINT1 -> lvtLint1 = lvt(value, LVT_LINT_BITS);
            case LVT_ERROR -> lvtError = lvt(value, LVT_VECTOR_BITS);
            case LVT_CMCI -> lvtCmci = lvt(value, LVT_DELIVERY_BITS);
            case TIMER_INITIAL -> timer.setInitialCount(value, clock.nanos());
            case TIMER_DIVIDE -> timer.setDivideConfiguration(value, clock.nanos());
            default -> { } // read-only and reserved registers
        }
    }

    private static ApicTimer.Mode timerMode(int lvtTimer) {
        int mode = (lvtTimer >>> TIMER_MODE_SHIFT) & 3;
        return mode == 1 ? ApicTimer.Mode.PERIODIC : mode == 2 ? ApicTimer.Mode.TSC_DEADLINE : ApicTimer.Mode.ONE_SHOT;
    }

    /** While the APIC is software-disabled every LVT entry stays masked. */
    private int lvt(int value, int writable) {
        value &= writable;
        return softwareEnabled() ? value : value | LVT_MASKED;
    }

    private void setSvr(int value) {
        svr = value & 0x3ff; // vector, enable, focus check; no EOI-broadcast suppression (version bit 24 clear)
        if (!softwareEnabled()) {
            lvtTimer |= LVT_MASKED;
            lvtThermal |= LVT_MASKED;
            lvtPerf |= LVT_MASKED;
            lvtLint0 |= LVT_MASKED;
            lvtLint1 |= LVT_MASKED;
            lvtError |= LVT_MASKED;
            lvtCmci |= LVT_MASKED;
        }
    }

    // ---- TPR (also CR8) and priorities ----

    int tpr() {
        return tpr;
    }

    void setTpr(int value) {
        tpr = value & 0xff;
    }

    private int ppr() {
        int inService = Math.max(highest(isr), 0);
        return (tpr >>> 4) >= (inService >>> 4) ? tpr : inService & 0xf0;
    }

    /** The highest vector set in a 256-bit register, or -1. */
    private static int highest(int[] bits) {
        for (int i = 7; i >= 0; i--) {
            if (bits[i] != 0) {
                return i * 32 + 31 - Integer.numberOfLeadingZeros(bits[i]);
            }
        }
        return -1;
    }

    private static boolean test(int[] bits, int vector) {
        return (bits[vector >>> 5] & (1 << vector)) != 0;
    }

    private static void set(int[] bits, int vector, boolean value) {
        if (value) {
            bits[vector >>> 5] |= 1 << vector;
        } else {
            bits[vector >>> 5] &= ~(1 << vector);
        }
    }

    // ---- interrupts in and out ----

    /**
     * A fixed interrupt arrives (from the I/O APIC, an IPI or an LVT entry). If its IRR bit is already
     * set the two merge, as on hardware. Vectors 0-15 are illegal and only set an error.
     */
    void accept(int vector, boolean levelTriggered) {
        if (vector < 16) {
            error(ESR_RECEIVE_ILLEGAL_VECTOR);
            return;
        }
        set(irr, vector, true);
        set(tmr, vector, levelTriggered);
    }

    private void error(int bits) {
        esrPending |= bits;
        if ((lvtError & LVT_MASKED) == 0 && (lvtError & 0xff) >= 16) {
            accept(lvtError & 0xff, false);
        }
    }

    /** Whether the APIC presents a vector to the CPU: the highest request outranks the processor priority. */
    boolean hasInterrupt() {
        if (!hardwareEnabled() || !softwareEnabled()) {
            return false;
        }
        int vector = highest(irr);
        return vector >= 0 && (vector & 0xf0) > (ppr() & 0xf0);
    }

    /** The CPU takes the highest request: it moves from IRR to ISR. Call only when {@link #hasInterrupt()}. */
    int acknowledge() {
        int vector = highest(irr);
        set(irr, vector, false);
        set(isr, vector, true);
        return vector;
    }

    private void eoi() {
        int vector = highest(isr);
        if (vector < 0) {
            return;
        }
        set(isr, vector, false);
        if (test(tmr, vector)) {
            eoiBroadcast.accept(vector);
        }
    }

    /**
     * Whether the PIC's INTR reaches the CPU: through LINT0 programmed as unmasked ExtINT (virtual wire), or
     * directly while the APIC is hardware-disabled, as the pins behave without an APIC. KVM's rule
     * ({@code kvm_apic_accept_pic_intr}). A software-disabled APIC has every LVT entry masked (SDM 10.4.7.2),
     * LINT0 included, so it cuts the PIC off: a guest that never initialises the 8259s (Linux on a
     * hardware-reduced ACPI platform soft-disables the APIC, with interrupts on, while it sets LINT0 up)
     * must not take one of their requests with the reset vector base 0.
     */
    boolean acceptsExtInt() {
        return !hardwareEnabled() || ((lvtLint0 & LVT_MASKED) == 0 && ((lvtLint0 >>> 8) & 7) == DELIVERY_EXTINT);
    }

    /** Whether this APIC is among the destinations of a message (I/O APIC entry or IPI). */
    boolean isDestination(int destination, boolean logical) {
        if (!logical) {
            return destination == 0xff || destination == id;
        }
        if (destination == 0xff) {
            return true;
        }
        int logicalId = ldr >>> 24;
        if ((dfr >>> 28) == 0xf) {
            return (logicalId & destination) != 0; // flat model: one bit per APIC
        }
        // Cluster model: the high nibble names the cluster, the low nibble the members.
        return (logicalId >>> 4) == (destination >>> 4) && (logicalId & destination & 0xf) != 0;
    }

    /** A message addressed to this APIC, on its own thread (a self-IPI, or a test): taken at once. */
    void receive(int deliveryMode, int vector, boolean levelTriggered) {
        switch (deliveryMode) {
            case ApicBus.FIXED, ApicBus.LOWEST -> accept(vector, levelTriggered);
            case ApicBus.NMI -> nmiPending = true;
            case ApicBus.INIT -> initPending = true;
            case ApicBus.STARTUP -> startupVector = vector;
            default -> { } // SMI (no SMM), ExtINT (only through LINT0): dropped, as KVM drops them
        }
    }

    /** A message from another thread (another CPU's IPI, the I/O APIC, an MSI): into the inbox, then the bell. */
    void post(int deliveryMode, int vector, boolean levelTriggered) {
        int signal = switch (deliveryMode) {
            case ApicBus.FIXED, ApicBus.LOWEST -> {
                long bit = 1L << (vector & 63);
                // The trigger mode first: the owner reads it after it sees the vector.
                if (levelTriggered) {
                    postedLevels.getAndAccumulate(vector >>> 6, bit, (a, b) -> a | b);
                } else {
                    postedLevels.getAndAccumulate(vector >>> 6, ~bit, (a, b) -> a & b);
                }
                postedVectors.getAndAccumulate(vector >>> 6, bit, (a, b) -> a | b);
                yield POSTED_VECTORS;
            }
            case ApicBus.NMI -> POSTED_NMI;
            case ApicBus.INIT -> POSTED_INIT;
            case ApicBus.STARTUP -> POSTED_STARTUP | (vector & 0xff) << 8;
            default -> 0;
        };
        if (signal == 0) {
            return;
        }
        posted.getAndUpdate(current -> (signal & POSTED_STARTUP) != 0
                ? (current & 0xff) | signal : current | signal);
        wake.run();
    }

    /** Owner: empties the inbox into IRR/TMR and the pending NMI, INIT and start-up. Cheap when empty. */
    void takeInbox() {
        if (posted.get() == 0) {
            return;
        }
        int signals = posted.getAndSet(0);
        if ((signals & POSTED_VECTORS) != 0) {
            for (int word = 0; word < 4; word++) {
                long vectors = postedVectors.getAndSet(word, 0);
                long levels = postedLevels.get(word);
                while (vectors != 0) {
                    int bit = Long.numberOfTrailingZeros(vectors);
                    vectors &= vectors - 1;
                    accept(word * 64 + bit, (levels & (1L << bit)) != 0);
                }
            }
        }
        // INIT before start-up: Linux sends both in a row, and a start-up only counts after an INIT.
        if ((signals & POSTED_INIT) != 0) {
            initPending = true;
        }
        if ((signals & POSTED_STARTUP) != 0) {
            startupVector = (signals >>> 8) & 0xff;
        }
        if ((signals & POSTED_NMI) != 0) {
            nmiPending = true;
        }
    }

    /** Owner: whether an INIT arrived, and forgets it. */
    boolean takeInit() {
        boolean init = initPending;
        initPending = false;
        return init;
    }

    /** Owner: the vector of a start-up IPI that arrived (and forgets it), or -1. */
    int takeStartup() {
        int vector = startupVector;
        startupVector = -1;
        return vector;
    }

    /** Owner: whether an NMI arrived, and forgets it. */
    boolean takeNmi() {
        boolean nmi = nmiPending;
        nmiPending = false;
        return nmi;
    }

    /** Owner: whether an NMI, INIT or start-up waits for the CPU. */
    boolean signalsPending() {
        return nmiPending || initPending || startupVector >= 0;
    }

    /**
     * An INIT resets the APIC's registers but keeps its ID and IA32_APIC_BASE (SDM 10.4.7.3); the CPU then
     * waits for a start-up IPI (an AP) or restarts (the BSP).
     */
    void init() {
        int keptId = id;
        reset();
        id = keptId;
    }

    /**
     * Sends what the ICR describes. A level de-assert INIT (trigger level, level 0) does nothing on CPUs since
     * the Pentium 4 and is dropped; a fixed or lowest-priority vector below 16 is an error, as on hardware.
     */
    private void sendIpi() {
        int vector = icrLow & 0xff;
        int deliveryMode = (icrLow >>> 8) & 7;
        boolean logical = (icrLow & (1 << 11)) != 0;
        boolean assertLevel = (icrLow & (1 << 14)) != 0;
        boolean levelTriggered = (icrLow & (1 << 15)) != 0;
        int shorthand = (icrLow >>> 18) & 3;
        if (deliveryMode == ApicBus.INIT && levelTriggered && !assertLevel) {
            return;
        }
        if ((deliveryMode == DELIVERY_FIXED || deliveryMode == DELIVERY_LOWEST) && vector < 16) {
            error(ESR_SEND_ILLEGAL_VECTOR);
            return;
        }
        // Fixed IPIs are edge-triggered whatever the ICR says (an EOI must not reach the I/O APIC for them).
        bus.sendIpi(this, icrHigh >>> 24, logical, shorthand, deliveryMode, vector, false);
    }

    // ---- timer ----

    long tscDeadline() {
        return timer.deadline();
    }

    void setTscDeadline(long value) {
        timer.setDeadline(value);
    }

    void tscChanged() {
        timer.tscChanged();
    }

    /** Fires the timer if it expired by {@code now}: its LVT vector, unless masked (the count runs on). */
    void service(long now) {
        if (timer.expire(now) && (lvtTimer & LVT_MASKED) == 0) {
            accept(lvtTimer & 0xff, false);
        }
    }

    long nextEvent() {
        return timer.expiry();
    }

    // ---- snapshot ----

    /**
     * Every register, IRR/ISR/TMR (eight 32-bit words each, vector 32n+i in bit i of word n), and the
     * timer at VM time {@code now}. CR8 is the TPR's high nibble, so it is here too.
     */
    void saveState(StateWriter out, long now) {
        out.putLong("apic_base", base);
        out.putLong("id", id);
        out.putLong("tpr", tpr);
        SnapshotFields.putUnsigned(out, "ldr", ldr);
        SnapshotFields.putUnsigned(out, "dfr", dfr);
        out.putLong("svr", svr);
        SnapshotFields.putUnsigned(out, "irr", irr);
        SnapshotFields.putUnsigned(out, "isr", isr);
        SnapshotFields.putUnsigned(out, "tmr", tmr);
        out.putLong("esr", esr);
        out.putLong("esr_pending", esrPending);
        SnapshotFields.putUnsigned(out, "icr_low", icrLow);
        SnapshotFields.putUnsigned(out, "icr_high", icrHigh);
        StateWriter lvt = out.child("lvt");
        SnapshotFields.putUnsigned(lvt, "timer", lvtTimer);
        SnapshotFields.putUnsigned(lvt, "thermal", lvtThermal);
        SnapshotFields.putUnsigned(lvt, "perf", lvtPerf);
        SnapshotFields.putUnsigned(lvt, "lint0", lvtLint0);
        SnapshotFields.putUnsigned(lvt, "lint1", lvtLint1);
        SnapshotFields.putUnsigned(lvt, "error", lvtError);
        SnapshotFields.putUnsigned(lvt, "cmci", lvtCmci);
        timer.saveState(out.child("timer"), now);
    }

    /**
     * Restores what {@link #saveState} wrote. Each register must hold only bits a guest write can leave
     * in it, and vectors 0-15 are never in IRR/ISR/TMR (the APIC refuses them). (A software-disabled APIC
     * may have LINT0 unmasked: the BSP's power-on virtual wire, before the guest touches the SVR.)
     */
    void restoreState(StateReader in, long now) throws SnapshotException {
        long apicBase = SnapshotFields.bits(in, "apic_base", BASE_WRITABLE);
        if ((apicBase & BASE_BSP) != (base & BASE_BSP)) {
            throw SnapshotFields.invalid(in, "apic_base", "0x" + Long.toHexString(apicBase)
                    + ", whose BSP flag (bit 8) is not this APIC's (" + (bsp ? "the BSP" : "an AP") + ")");
        }
        int apicId = in.getInt("id", 0, 0xff);
        int taskPriority = in.getInt("tpr", 0, 0xff);
        int logical = SnapshotFields.bits32(in, "ldr", HIGH_BYTE);
        int format = SnapshotFields.bits32(in, "dfr", -1);
        if ((format & 0x0fff_ffff) != 0x0fff_ffff) {
            throw SnapshotFields.invalid(in, "dfr", "0x" + Integer.toHexString(format) + ", whose bits 27:0 are not all set");
        }
        int spurious = in.getInt("svr", 0, 0x3ff);
        int[] requests = vectors(in, "irr");
        int[] inService = vectors(in, "isr");
        int[] triggers = vectors(in, "tmr");
        int errors = (int) SnapshotFields.bits(in, "esr", ESR_BITS);
        int errorsPending = (int) SnapshotFields.bits(in, "esr_pending", ESR_BITS);
        int commandLow = SnapshotFields.bits32(in, "icr_low", ICR_LOW_BITS);
        int commandHigh = SnapshotFields.bits32(in, "icr_high", HIGH_BYTE);
        StateReader lvt = in.child("lvt");
        int[] entries = {
                SnapshotFields.bits32(lvt, "timer", LVT_TIMER_BITS),
                SnapshotFields.bits32(lvt, "thermal", LVT_DELIVERY_BITS),
                SnapshotFields.bits32(lvt, "perf", LVT_DELIVERY_BITS),
                SnapshotFields.bits32(lvt, "lint0", LVT_LINT_BITS),
                SnapshotFields.bits32(lvt, "lint1", LVT_LINT_BITS),
                SnapshotFields.bits32(lvt, "error", LVT_VECTOR_BITS),
                SnapshotFields.bits32(lvt, "cmci", LVT_DELIVERY_BITS),
        };
        timer.restoreState(in.child("timer"), timerMode(entries[0]), now);
        base = apicBase;
        id = apicId;
        tpr = taskPriority;
        ldr = logical;
        dfr = format;
        svr = spurious;
        System.arraycopy(requests, 0, irr, 0, 8);
        System.arraycopy(inService, 0, isr, 0, 8);
        System.arraycopy(triggers, 0, tmr, 0, 8);
        esr = errors;
        esrPending = errorsPending;
        icrLow = commandLow;
        icrHigh = commandHigh;
        lvtTimer = entries[0];
        lvtThermal = entries[1];
        lvtPerf = entries[2];
        lvtLint0 = entries[3];
        lvtLint1 = entries[4];
        lvtError = entries[5];
        lvtCmci = entries[6];
    }

    /** A 256-bit vector register: eight unsigned words, vectors 0-15 (illegal) clear. */
    private static int[] vectors(StateReader in, String key) throws SnapshotException {
        int[] words = SnapshotFields.unsignedInts(in, key, 8);
        if ((words[0] & 0xffff) != 0) {
            throw SnapshotFields.invalid(in, key + ".0", "0x" + Integer.toHexString(words[0])
                    + ", which sets vectors 0-15 (the APIC never accepts them)");
        }
        return words;
    }
}
