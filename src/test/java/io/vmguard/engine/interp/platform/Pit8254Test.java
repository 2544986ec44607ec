package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Counter programming as Linux's PIT clockevent and calibration code do it, on a hand-moved clock. */
class Pit8254Test {
    /** 1193 input ticks: 999,847 ns at 1.193182 MHz (rounded up). */
    private static final int COUNT = 1193;
    private static final long PERIOD_NANOS = 999_848;

    private final ManualClock clock = new ManualClock(5_000_000);
    private int irqs;
    private final Pit8254 pit = new Pit8254(clock, () -> irqs++);

    private void loadChannel0(int control, int count) {
        pit.write(0x43, control);
        pit.write(0x40, count & 0xff);
        pit.write(0x40, count >>> 8);
    }

    private void advanceAndService(long nanos) {
        clock.advance(nanos);
        pit.service(clock.nanos());
    }

    @Test
    void mode2RaisesIrq0OncePerPeriod() {
        loadChannel0(0x34, COUNT); // channel 0, LSB then MSB, mode 2: Linux's periodic tick
        assertEquals(clock.nanos() + PERIOD_NANOS, pit.nextEvent());
        advanceAndService(PERIOD_NANOS - 1);
        assertEquals(0, irqs);
        advanceAndService(1);
        assertEquals(1, irqs);
        advanceAndService(PERIOD_NANOS);
        assertEquals(2, irqs);
        advanceAndService(10 * PERIOD_NANOS);
        assertEquals(3, irqs, "periods missed while the vCPU was busy coalesce into one edge");
    }

    @Test
    void mode4FiresOnceAtTheTerminalCount() {
        loadChannel0(0x38, 100); // mode 4: Linux's one-shot clockevent
        advanceAndService(83_810); // 100 ticks = 83,809.6 ns
        assertEquals(1, irqs);
        advanceAndService(100_000_000);
        assertEquals(1, irqs);
        assertEquals(Platform.NEVER, pit.nextEvent());
        pit.write(0x40, 100);
        pit.write(0x40, 0);
        advanceAndService(83_810);
        assertEquals(2, irqs, "writing a new count re-arms it");
    }

    @Test
    void aTinyPeriodStillLeavesTheCpuTimeBetweenInterrupts() {
        loadChannel0(0x34, 2); // 1.7 us
        advanceAndService(2_000);
        assertEquals(1, irqs);
        assertEquals(clock.nanos() + Pit8254.MIN_IRQ_INTERVAL_NANOS, pit.nextEvent());
    }

    @Test
    void aControlWordStopsTheCounterUntilACountIsWritten() {
        loadChannel0(0x34, COUNT);
        pit.write(0x43, 0x30); // mode 0, as Linux's shutdown writes it
        advanceAndService(100 * PERIOD_NANOS);
        assertEquals(0, irqs);
        assertEquals(Platform.NEVER, pit.nextEvent());
    }

    @Test
    void theCounterReadsBackThroughTheLatchAndDirectly() {
        loadChannel0(0x34, 10_000);
        clock.advance(838 * 10); // about 10 ticks (838.1 ns each): 9 whole ticks have passed
        pit.write(0x43, 0x00); // latch channel 0
        clock.advance(1_000_000);
        int latched = pit.read(0x40) | pit.read(0x40) << 8;
        assertEquals(10_000 - 9, latched, "the value at the latch, not now");
        int direct = pit.read(0x40) | pit.read(0x40) << 8;
        assertEquals(10_000 - 1203, direct, "1,008,380 ns: 1203 whole ticks");
    }

    @Test
    void channel2GateAndOutputThroughPort61AsTheTscCalibrationUsesThem() {
        pit.write(0x61, 0x01); // gate 2 high, speaker off
        pit.write(0x43, 0xb0); // channel 2, LSB then MSB, mode 0
        pit.write(0x42, 0xff);
        pit.write(0x42, 0xff);
        assertEquals(0, pit.read(0x61) & 0x20, "OUT 2 low while counting in mode 0");
        assertEquals(1, pit.read(0x61) & 0x01, "gate reads back");
        clock.advance(55_000_000); // more than 65535 ticks (54.92 ms)
        assertEquals(0x20, pit.read(0x61) & 0x20, "OUT 2 high at the terminal count");
        int toggles = (pit.read(0x61) ^ pit.read(0x61)) & 0x10;
        assertEquals(0x10, toggles, "the refresh bit toggles");
        assertEquals(0, irqs, "channel 2 has no interrupt");
    }

    @Test
    void readBackCommandLatchesTheStatus() {
        loadChannel0(0x34, COUNT);
        pit.write(0x43, 0xe2); // read-back: status only, channel 0
        assertEquals(0x80 | 0x30 | 0x04, pit.read(0x40), "OUT high, count loaded, LSB/MSB, mode 2");
    }
}
