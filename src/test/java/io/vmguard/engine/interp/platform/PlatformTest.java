package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The devices wired together as a PC: which path an interrupt takes to the CPU, and what the vCPU sees. */
class PlatformTest {
    private static final long LAPIC = 0xfee0_0000L;
    private static final long IOAPIC = 0xfec0_0000L;

    private final ManualClock clock = new ManualClock(1_000);
    private final Doorbell doorbell = new Doorbell();
    private final InterruptInputs inputs = new InterruptInputs(doorbell::ring);
    private final Platform platform = new Platform(clock, inputs, (address, size, value) -> false, 0, () -> 0L);

    private void initPic() {
        platform.portOut(0x20, 1, 0x11);
        platform.portOut(0x21, 1, 0x20);
        platform.portOut(0x21, 1, 0x04);
        platform.portOut(0x21, 1, 0x01);
        platform.portOut(0xa0, 1, 0x11);
        platform.portOut(0xa1, 1, 0x28);
        platform.portOut(0xa1, 1, 0x02);
        platform.portOut(0xa1, 1, 0x01);
    }

    private void lapicWrite(int register, int value) {
        platform.mmioWrite(LAPIC + register, 4, value);
    }

    private void ioApicEntry(int pin, int low, int high) {
        platform.mmioWrite(IOAPIC, 4, 0x11 + 2 * pin);
        platform.mmioWrite(IOAPIC + 0x10, 4, high);
        platform.mmioWrite(IOAPIC, 4, 0x10 + 2 * pin);
        platform.mmioWrite(IOAPIC + 0x10, 4, low);
    }

    @Test
    void theEngineClaimsThePcPortsMmioAndMsrsKvmKeepsInTheKernel() {
        for (int port : new int[] {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61}) {
            assertTrue(Platform.claimsPort(port), "port 0x" + Integer.toHexString(port));
        }
        for (int port : new int[] {0x3f8, 0x60, 0x64, 0x70, 0x80, 0xf4, 0x500}) {
            assertFalse(Platform.claimsPort(port), "port 0x" + Integer.toHexString(port));
        }
        assertTrue(platform.claimsMmio(LAPIC + 0x3f0));
        assertTrue(platform.claimsMmio(IOAPIC + 0xff));
        assertFalse(platform.claimsMmio(IOAPIC + 0x100));
        assertFalse(platform.claimsMmio(0x1000_0000L));
        for (int msr : new int[] {0x1b, 0x6e0, 0x4b564d00, 0x4b564d01}) {
            assertTrue(Platform.claimsMsr(msr));
        }
        assertFalse(Platform.claimsMsr(0x802), "no x2APIC");
    }

    @Test
    void aPicIrqReachesTheCpuThroughLint0InVirtualWireMode() {
        initPic();
        lapicWrite(0xf0, 0x1ff);
        lapicWrite(0x350, 0x700);
        inputs.set(5, true);
        inputs.set(5, false);
        assertFalse(platform.interruptRequested(), "not before the vCPU looks");
        platform.service();
        assertTrue(platform.interruptRequested());
        assertEquals(0x25, platform.acknowledge());
        assertFalse(platform.interruptRequested());
        assertEquals(-1, platform.acknowledge(), "nothing left");
        platform.portOut(0x20, 1, 0x20); // EOI

        lapicWrite(0x350, 0x1_0700);
        inputs.set(5, true);
        platform.service();
        assertFalse(platform.interruptRequested(), "LINT0 masked: the PIC is cut off");
        lapicWrite(0xf0, 0xff);
        assertFalse(platform.interruptRequested(), "a software-disabled APIC keeps LINT0 masked");
        lapicWrite(0xf0, 0x1ff);
        lapicWrite(0x350, 0x700);
        assertTrue(platform.interruptRequested(), "LINT0 unmasked again: the waiting request gets through");
    }

    @Test
    void anIoApicLineReachesTheCpuAsALocalApicVectorAndItsLevelEoiResends() {
        lapicWrite(0xf0, 0x1ff);
        ioApicEntry(20, 0x8041, 0); // vector 0x41, level, physical destination 0
        inputs.set(20, true);
        platform.service();
        assertTrue(platform.interruptRequested());
        assertEquals(0x41, platform.acknowledge());
        lapicWrite(0xb0, 0);
        assertTrue(platform.interruptRequested(), "still asserted: the EOI sent it again");
        assertEquals(0x41, platform.acknowledge());
        inputs.set(20, false);
        platform.service();
        lapicWrite(0xb0, 0);
        assertFalse(platform.interruptRequested());
    }

    @Test
    void aMessageSignalledInterruptRaisesItsVectorInTheAddressedApic() {
        lapicWrite(0xf0, 0x1ff);
        inputs.signalMsi(0xfee0_1000L, 0x51); // APIC id 1: nobody
        inputs.signalMsi(0xfee0_0000L, 0x4_52); // delivery mode 4 (NMI): not modelled, dropped
        platform.service();
        assertFalse(platform.interruptRequested());

        inputs.signalMsi(0xfee0_0000L, 0x53); // physical destination 0, fixed
        assertFalse(platform.interruptRequested(), "not before the vCPU looks");
        platform.service();
        assertTrue(platform.interruptRequested());
        assertEquals(0x53, platform.acknowledge());
        lapicWrite(0xb0, 0); // EOI: edge-triggered, so nothing goes back to the I/O APIC

        lapicWrite(0xd0, 0x0200_0000); // logical id bit 1, flat model
        inputs.signalMsi(0xfee0_2004L, 0x1_61); // logical destination 0x02, lowest priority
        platform.service();
        assertEquals(0x61, platform.acknowledge());
        assertEquals(-1, platform.acknowledge());
    }

    @Test
    void cr8IsTheTaskPriorityClass() {
        lapicWrite(0xf0, 0x1ff);
        platform.setTaskPriorityClass(5);
        assertEquals(0x50L, platform.mmioRead(LAPIC + 0x80, 4));
        lapicWrite(0x300, 0x4_0051); // self-IPI, class 5: held back
        assertFalse(platform.interruptRequested());
        platform.setTaskPriorityClass(4);
        assertTrue(platform.interruptRequested());
    }

    @Test
    void thePitDrivesPicIrq0AndIoApicPin2() {
        initPic();
        ioApicEntry(2, 0x30, 0);
        lapicWrite(0xf0, 0x1ff);
        platform.portOut(0x21, 1, 0xfe); // PIC: only IRQ 0
        lapicWrite(0x350, 0x1_0700);     // and not through LINT0, so the I/O APIC path shows alone
        platform.portOut(0x43, 1, 0x34);
        platform.portOut(0x40, 1, 1193 & 0xff);
        platform.portOut(0x40, 1, 1193 >> 8);
        assertEquals(clock.nanos() + 999_848, platform.nextEvent());
        clock.advance(999_848);
        platform.service();
        assertEquals(0x30, platform.acknowledge(), "through I/O APIC pin 2");
        lapicWrite(0x350, 0x700);
        assertEquals(0x20, platform.acknowledge(), "and PIC IRQ 0, latched meanwhile");
    }

    @Test
    void aTscDeadlineInThePastFiresBeforeTheNextInstruction() {
        lapicWrite(0xf0, 0x1ff);
        lapicWrite(0x320, 0x4_00ef);
        assertTrue(platform.writeMsr(Platform.MSR_TSC_DEADLINE, platform.tsc() - 1));
        assertTrue(platform.interruptRequested());
        assertEquals(0xef, platform.acknowledge());
    }

    @Test
    void settingTheApicBaseToX2apicIsRefused() {
        assertFalse(platform.writeMsr(Platform.MSR_APIC_BASE, LAPIC | (3L << 10)));
        assertEquals(LAPIC | 0x900, platform.readMsr(Platform.MSR_APIC_BASE));
    }
}
