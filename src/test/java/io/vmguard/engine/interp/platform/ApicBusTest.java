package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * IPIs between four local APICs on one bus: physical and logical (flat and cluster) destinations, the ICR
 * shorthands, lowest priority to one CPU, NMI, INIT and start-up, the level de-assert INIT that does nothing, and
 * the doorbell that tells each receiving CPU (posted messages wait in the inbox until the owner looks).
 */
class ApicBusTest {
    private static final int CPUS = 4;
    private static final int FIXED = 0, LOWEST = 1 << 8, NMI = 4 << 8, INIT = 5 << 8, STARTUP = 6 << 8;
    private static final int LOGICAL = 1 << 11, ASSERT = 1 << 14, LEVEL = 1 << 15;
    private static final int SELF = 1 << 18, ALL = 2 << 18, OTHERS = 3 << 18;

    private final ManualClock clock = new ManualClock(1_000);
    private final ApicBus bus = new ApicBus();
    private final LocalApic[] apics = new LocalApic[CPUS];
    private final AtomicInteger[] bells = new AtomicInteger[CPUS];

    @BeforeEach
    void connect() {
        for (int i = 0; i < CPUS; i++) {
            AtomicInteger bell = new AtomicInteger();
            bells[i] = bell;
            apics[i] = new LocalApic(clock, new Tsc(clock), i, vector -> { }, bus, bell::incrementAndGet);
            apics[i].write(LocalApic.SVR, 0x1ff);
        }
    }

    private void send(int from, int destination, int command) {
        apics[from].write(LocalApic.ICR_HIGH, destination << 24);
        apics[from].write(LocalApic.ICR_LOW, command);
    }

    /** Which CPUs have {@code vector} in IRR once each has emptied its inbox, as a bit set. */
    private int requested(int vector) {
        int who = 0;
        for (int i = 0; i < CPUS; i++) {
            apics[i].takeInbox();
            if (((apics[i].read(LocalApic.IRR + (vector >>> 5) * 0x10) >>> (vector & 31)) & 1) != 0) {
                who |= 1 << i;
            }
        }
        return who;
    }

    @Test
    void aFixedIpiReachesTheAddressedCpuOnlyAndRingsItsBell() {
        send(0, 2, FIXED | 0x40);
        assertEquals(1, bells[2].get());
        assertEquals(0, bells[1].get() + bells[3].get());
        assertEquals(0b0100, requested(0x40));
    }

    @Test
    void shorthandsAddressSelfEveryoneAndEveryoneElse() {
        send(1, 0, SELF | 0x41);
        assertEquals(0b0010, requested(0x41));
        assertEquals(0, bells[1].get(), "a self-IPI is taken at once, on the sender's own thread");
        send(1, 0, ALL | 0x42);
        assertEquals(0b1111, requested(0x42));
        send(1, 0, OTHERS | 0x43);
        assertEquals(0b1101, requested(0x43));
    }

    @Test
    void logicalDestinationsInFlatAndClusterModel() {
        for (int i = 0; i < CPUS; i++) {
            apics[i].write(LocalApic.LDR, (1 << i) << 24); // flat: one bit per CPU
        }
        send(0, 0b1010, LOGICAL | FIXED | 0x50);
        assertEquals(0b1010, requested(0x50));

        for (int i = 0; i < CPUS; i++) {
            apics[i].write(LocalApic.DFR, 0x0fff_ffff);           // cluster model
            apics[i].write(LocalApic.LDR, ((i / 2) << 4 | 1 << (i % 2)) << 24); // clusters 0 and 1, two CPUs each
        }
        send(0, 0x13, LOGICAL | FIXED | 0x51); // cluster 1, both members
        assertEquals(0b1100, requested(0x51));
    }

    @Test
    void lowestPriorityGoesToOneCpuAndBroadcastPhysicalToAll() {
        send(0, 0xff, LOWEST | 0x60);
        assertEquals(1, Integer.bitCount(requested(0x60)));
        send(0, 0xff, FIXED | 0x61);
        assertEquals(0b1111, requested(0x61));
    }

    @Test
    void initStartupAndNmiWaitForTheCpuToTakeThem() {
        send(0, 3, INIT | ASSERT | LEVEL);
        send(0, 3, INIT | LEVEL);              // level de-assert: nothing since the Pentium 4
        send(0, 3, STARTUP | 0x9a);
        send(0, 3, NMI);
        apics[3].takeInbox();
        assertTrue(apics[3].signalsPending());
        assertTrue(apics[3].takeInit());
        assertFalse(apics[3].takeInit(), "one INIT, the de-assert dropped");
        assertEquals(0x9a, apics[3].takeStartup());
        assertEquals(-1, apics[3].takeStartup());
        assertTrue(apics[3].takeNmi());
        assertFalse(apics[3].signalsPending());
        assertEquals(4 - 1, bells[3].get(), "INIT, start-up and NMI each rang; the de-assert did not");
    }

    @Test
    void anIpiWithAnIllegalVectorIsAnErrorAndGoesNowhere() {
        send(0, 1, FIXED | 0x0f);
        assertEquals(0, bells[1].get());
        apics[0].write(LocalApic.ESR, 0);
        assertEquals(1 << 5, apics[0].read(LocalApic.ESR), "send illegal vector");
    }

    @Test
    void initResetsTheApicButKeepsItsId() {
        apics[2].write(LocalApic.ID, 7 << 24);
        apics[2].write(LocalApic.TPR, 0x30);
        apics[2].init();
        assertEquals(7 << 24, apics[2].read(LocalApic.ID));
        assertEquals(0, apics[2].read(LocalApic.TPR));
        assertEquals(0xff, apics[2].read(LocalApic.SVR), "software-disabled again");
    }
}
