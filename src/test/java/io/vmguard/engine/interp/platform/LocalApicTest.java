package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Registers, priorities, EOI and IPIs of the local APIC, and its timer in all three modes on a hand-moved clock. */
class LocalApicTest {
    private static final int TIMER_VECTOR = 0xec;

    private final ManualClock clock = new ManualClock(1_000_000);
    private final Tsc tsc = new Tsc(clock);
    private final List<Integer> levelEois = new ArrayList<>();
    private final LocalApic apic = new LocalApic(clock, tsc, 0, levelEois::add);

    private void enable() {
        apic.write(LocalApic.SVR, 0x1ff);
    }

    private int irr(int vector) {
        return (apic.read(LocalApic.IRR + (vector >>> 5) * 0x10) >>> (vector & 31)) & 1;
    }

    @Test
    void resetState() {
        assertEquals(LocalApic.DEFAULT_BASE | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP, apic.base());
        assertEquals(0, apic.read(LocalApic.ID));
        assertEquals(0x0005_0014, apic.read(LocalApic.VERSION_REGISTER));
        assertEquals(0xff, apic.read(LocalApic.SVR), "software-disabled, spurious vector 0xff");
        assertEquals(0xffff_ffff, apic.read(LocalApic.DFR), "flat model");
        assertEquals(0x700, apic.read(LocalApic.LVT_LINT0), "the BSP's LINT0 is ExtINT (virtual wire)");
        assertEquals(0x1_0000, apic.read(LocalApic.LVT_LINT1));
        assertEquals(0x1_0000, apic.read(LocalApic.LVT_TIMER));
        assertEquals(0x1_0000, apic.read(LocalApic.LVT_ERROR));
    }

    @Test
    void mmioReadsRegistersAtAnyWidthAndIgnoresUnalignedWrites() {
        apic.write(LocalApic.TPR, 0x20);
        assertEquals(0x0005_0014L, apic.mmioRead(0x30, 4));
        assertEquals(0x14L, apic.mmioRead(0x30, 1));
        assertEquals(0x05L, apic.mmioRead(0x32, 1));
        assertEquals(0L, apic.mmioRead(0x34, 4), "bytes 4-15 of a register are reserved");
        apic.mmioWrite(0x80, 1, 0x70);
        apic.mmioWrite(0x84, 4, 0x70);
        assertEquals(0x20, apic.read(LocalApic.TPR), "only aligned 32-bit writes land");
        apic.mmioWrite(0x80, 4, 0x70);
        assertEquals(0x70, apic.read(LocalApic.TPR));
    }

    @Test
    void theApicBaseMsrMovesThePageAndRejectsX2apicAndReservedBits() {
        assertTrue(apic.claims(0xfee0_00b0L));
        assertFalse(apic.setBase(LocalApic.DEFAULT_BASE | LocalApic.BASE_ENABLE | (1L << 10)), "x2APIC is not offered");
        assertFalse(apic.setBase(LocalApic.DEFAULT_BASE | LocalApic.BASE_ENABLE | 1));
        assertTrue(apic.setBase(0xfed0_0000L | LocalApic.BASE_ENABLE));
        assertTrue(apic.claims(0xfed0_0020L));
        assertFalse(apic.claims(0xfee0_0020L));
        assertEquals(0xfed0_0000L | LocalApic.BASE_ENABLE | LocalApic.BASE_BSP, apic.base(), "the BSP flag stays");
        enable();
        assertTrue(apic.setBase(0xfed0_0000L));
        assertFalse(apic.claims(0xfed0_0020L), "disabled: no MMIO page");
        assertTrue(apic.setBase(0xfed0_0000L | LocalApic.BASE_ENABLE));
        assertEquals(0xff, apic.read(LocalApic.SVR), "disabling reset the APIC");
    }

    @Test
    void theHighestRequestAboveTheProcessorPriorityIsDeliveredAndEoiEndsTheHighestInService() {
        enable();
        apic.accept(0x31, false);
        apic.accept(0x45, false);
        apic.write(LocalApic.TPR, 0x40);
        assertFalse(apic.hasInterrupt(), "class 4 does not outrank TPR class 4");
        assertEquals(0x40, apic.read(LocalApic.PPR));
        apic.write(LocalApic.TPR, 0x30);
        assertTrue(apic.hasInterrupt());
        assertEquals(0x45, apic.acknowledge());
        assertEquals(0x40, apic.read(LocalApic.PPR), "the in-service class now sets the priority");
        assertFalse(apic.hasInterrupt(), "0x31 waits for the EOI");
        assertEquals(1, irr(0x31));

        apic.write(LocalApic.EOI, 0);
        assertEquals(0x30, apic.read(LocalApic.PPR));
        apic.write(LocalApic.TPR, 0x10);
        assertEquals(0x31, apic.acknowledge());
        apic.write(LocalApic.EOI, 0);
        assertEquals(List.of(), levelEois, "edge-triggered vectors are not broadcast");
    }

    @Test
    void aLevelTriggeredVectorsEoiIsBroadcast() {
        enable();
        apic.accept(0x61, true);
        assertEquals(1, (apic.read(LocalApic.TMR + 0x30) >>> 1) & 1, "TMR marks it level");
        assertEquals(0x61, apic.acknowledge());
        apic.write(LocalApic.EOI, 0);
        assertEquals(List.of(0x61), levelEois);
    }

    @Test
    void aSoftwareDisabledApicHoldsRequestsAndMasksItsLvtEntries() {
        apic.accept(0x50, false);
        assertFalse(apic.hasInterrupt());
        apic.write(LocalApic.LVT_TIMER, 0x40);
        assertEquals(0x1_0040, apic.read(LocalApic.LVT_TIMER), "mask forced while disabled");
        enable();
        assertTrue(apic.hasInterrupt());
        apic.write(LocalApic.LVT_LINT0, 0x700);
        apic.write(LocalApic.SVR, 0xff);
        assertEquals(0x1_0700, apic.read(LocalApic.LVT_LINT0), "disabling masks every entry");
    }

    @Test
    void extIntPassesThroughUnmaskedLint0OrAHardwareDisabledApic() {
        assertTrue(apic.acceptsExtInt(), "reset: software-disabled, LINT0 ExtINT (virtual wire, as KVM resets it)");
        apic.write(LocalApic.SVR, 0xff);
        assertFalse(apic.acceptsExtInt(), "explicitly software-disabled: LINT0 masked");
        enable();
        assertFalse(apic.acceptsExtInt(), "enabling does not unmask LINT0");
        apic.write(LocalApic.LVT_LINT0, 0x700);
        assertTrue(apic.acceptsExtInt(), "LINT0 ExtINT");
        apic.write(LocalApic.LVT_LINT0, 0x1_0700);
        assertFalse(apic.acceptsExtInt(), "LINT0 masked");
        apic.write(LocalApic.LVT_LINT0, 0x400);
        assertFalse(apic.acceptsExtInt(), "LINT0 as NMI");
        apic.setBase(LocalApic.DEFAULT_BASE);
        assertTrue(apic.acceptsExtInt(), "hardware-disabled: LINT0 is the INTR pin");
    }

    @Test
    void icrDeliversFixedIpisAddressedToThisApic() {
        enable();
        apic.write(LocalApic.ICR_LOW, 0x4_0041); // shorthand self
        apic.write(LocalApic.ICR_HIGH, 0x0100_0000);
        apic.write(LocalApic.ICR_LOW, 0x42); // physical destination 1: someone else
        apic.write(LocalApic.ICR_HIGH, 0);
        apic.write(LocalApic.ICR_LOW, 0x43); // physical destination 0: this APIC
        apic.write(LocalApic.LDR, 0x0100_0000);
        apic.write(LocalApic.ICR_HIGH, 0x0100_0000);
        apic.write(LocalApic.ICR_LOW, 0x844); // logical, flat: bit 0 is ours
        apic.write(LocalApic.ICR_LOW, 0xc_0045); // all excluding self
        assertEquals(List.of(1, 0, 1, 1, 0), List.of(irr(0x41), irr(0x42), irr(0x43), irr(0x44), irr(0x45)));
        assertEquals(0xc_0045, apic.read(LocalApic.ICR_LOW), "the last command, delivery status idle");
    }

    @Test
    void illegalVectorsAreReportedThroughTheEsrAndTheErrorLvt() {
        enable();
        apic.write(LocalApic.LVT_ERROR, 0xfe);
        apic.write(LocalApic.ICR_LOW, 0x4_0005); // self-IPI with vector 5
        assertEquals(0, apic.read(LocalApic.ESR), "not visible before an ESR write");
        apic.write(LocalApic.ESR, 0);
        assertEquals(0x20, apic.read(LocalApic.ESR), "send illegal vector");
        assertEquals(1, irr(0xfe), "the error LVT fired");
        apic.write(LocalApic.ESR, 0);
        assertEquals(0, apic.read(LocalApic.ESR));
    }

    @Test
    void oneShotTimerCountsDownAtTheDividedBusClockAndFiresOnce() {
        enable();
        apic.write(LocalApic.TIMER_DIVIDE, 0x1); // divide by 4
        apic.write(LocalApic.LVT_TIMER, TIMER_VECTOR);
        apic.write(LocalApic.TIMER_INITIAL, 1000);
        assertEquals(1_004_000, apic.nextEvent(), "1000 ticks of 4 ns");
        clock.advance(400);
        assertEquals(900, apic.read(LocalApic.TIMER_CURRENT));
        clock.advance(3599);
        apic.service(clock.nanos());
        assertEquals(0, irr(TIMER_VECTOR));
        clock.advance(1);
        apic.service(clock.nanos());
        assertEquals(1, irr(TIMER_VECTOR));
        assertEquals(0, apic.read(LocalApic.TIMER_CURRENT));
        assertEquals(Platform.NEVER, apic.nextEvent(), "one-shot: stopped");
        assertEquals(1000, apic.read(LocalApic.TIMER_INITIAL));
    }

    @Test
    void periodicTimerReloadsAndCoalescesMissedPeriods() {
        enable();
        apic.write(LocalApic.TIMER_DIVIDE, 0xb); // divide by 1
        apic.write(LocalApic.LVT_TIMER, TIMER_VECTOR | (1 << 17));
        apic.write(LocalApic.TIMER_INITIAL, 250_000);
        clock.advance(250_000);
        apic.service(clock.nanos());
        assertEquals(TIMER_VECTOR, apic.acknowledge());
        apic.write(LocalApic.EOI, 0);
        clock.advance(100_000);
        assertEquals(150_000, apic.read(LocalApic.TIMER_CURRENT));
        clock.advance(1_000_000); // four periods missed
        apic.service(clock.nanos());
        assertEquals(TIMER_VECTOR, apic.acknowledge());
        apic.write(LocalApic.EOI, 0);
        assertFalse(apic.hasInterrupt(), "missed periods became one interrupt");
        assertEquals(1_000_000 + 1_500_000, apic.nextEvent(), "the next period boundary");
        apic.write(LocalApic.TIMER_INITIAL, 0);
        assertEquals(Platform.NEVER, apic.nextEvent(), "an initial count of 0 stops it");
    }

    @Test
    void aMaskedTimerRunsWithoutInterrupting() {
        enable();
        apic.write(LocalApic.LVT_TIMER, TIMER_VECTOR | LocalApic.LVT_MASKED);
        apic.write(LocalApic.TIMER_INITIAL, 10);
        clock.advance(1_000);
        apic.service(clock.nanos());
        assertFalse(apic.hasInterrupt());
        assertEquals(0, apic.read(LocalApic.TIMER_CURRENT));
    }

    @Test
    void tscDeadlineModeFiresWhenTheTscReachesTheDeadlineThenDisarms() {
        enable();
        apic.setTscDeadline(tsc.read() + 10);
        assertEquals(0, apic.tscDeadline(), "ignored outside TSC-deadline mode");
        apic.write(LocalApic.LVT_TIMER, TIMER_VECTOR | (2 << 17));
        apic.write(LocalApic.TIMER_INITIAL, 1000);
        assertEquals(0, apic.read(LocalApic.TIMER_INITIAL), "the count registers are unused in this mode");

        tsc.write(5_000_000);
        apic.setTscDeadline(5_020_000);
        assertEquals(5_020_000, apic.tscDeadline());
        assertEquals(clock.nanos() + 20_000, apic.nextEvent());
        clock.advance(19_999);
        apic.service(clock.nanos());
        assertFalse(apic.hasInterrupt());
        clock.advance(1);
        apic.service(clock.nanos());
        assertEquals(TIMER_VECTOR, apic.acknowledge());
        assertEquals(0, apic.tscDeadline(), "the MSR reads 0 once it fired");

        apic.setTscDeadline(tsc.read() - 1);
        apic.service(clock.nanos());
        assertEquals(1, irr(TIMER_VECTOR), "a deadline in the past fires at once");
        apic.write(LocalApic.LVT_TIMER, TIMER_VECTOR);
        apic.setTscDeadline(tsc.read() + 1);
        assertEquals(Platform.NEVER, apic.nextEvent(), "leaving the mode disarmed it");
    }

    @Test
    void movingTheTscMovesAnArmedDeadline() {
        enable();
        apic.write(LocalApic.LVT_TIMER, TIMER_VECTOR | (2 << 17));
        tsc.write(0);
        apic.setTscDeadline(50_000);
        tsc.write(40_000);
        apic.tscChanged();
        assertEquals(clock.nanos() + 10_000, apic.nextEvent());
    }
}
