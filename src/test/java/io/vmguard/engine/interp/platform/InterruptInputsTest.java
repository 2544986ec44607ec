package io.vmguard.engine.interp.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Line changes and message-signalled interrupts from device threads reach the controllers (every edge,
 * every distinct message), and wake the vCPU.
 */
class InterruptInputsTest {
    record Change(int gsi, boolean level) {}

    record Message(long address, int data) {}

    private final AtomicInteger wakes = new AtomicInteger();
    private final InterruptInputs inputs = new InterruptInputs(wakes::incrementAndGet);
    private final List<Change> seen = new ArrayList<>();
    private final List<Message> messages = new ArrayList<>();

    private List<Change> drain() {
        seen.clear();
        messages.clear();
        inputs.drain((gsi, level) -> seen.add(new Change(gsi, level)),
                (address, data) -> messages.add(new Message(address, data)));
        return List.copyOf(seen);
    }

    @Test
    void messagesReachTheVcpuOnceEachAndWakeIt() {
        inputs.signalMsi(0xfee0_1004L, 0x4041);
        inputs.signalMsi(0xfee0_0000L, 0x41);
        inputs.signalMsi(0xfee0_0000L, 0x41); // the same vector again before the vCPU looked: one IRR bit
        assertEquals(3, wakes.get());
        assertTrue(inputs.changed());
        assertEquals(List.of(), drain(), "no line changed");
        assertEquals(Set.of(new Message(0xfee0_1004L, 0x4041), new Message(0xfee0_0000L, 0x41)), Set.copyOf(messages));
        assertEquals(2, messages.size());
        assertFalse(inputs.changed());
        drain();
        assertEquals(List.of(), messages);
    }

    @Test
    void messagesOutsideTheInterruptWindowAreDropped() {
        inputs.signalMsi(0xfed0_0000L, 0x41);
        inputs.signalMsi(0x1_fee0_0000L, 0x41);
        assertFalse(inputs.changed());
        assertEquals(0, wakes.get());
    }

    @Test
    void linesAndMessagesArriveInTheSameLook() {
        inputs.signalMsi(0xfee0_0000L, 0x51);
        inputs.set(23, true);
        assertEquals(List.of(new Change(23, true)), drain(), "the message flag is not mistaken for a line");
        assertEquals(List.of(new Message(0xfee0_0000L, 0x51)), messages);
    }

    @Test
    void aPulseBetweenTwoLooksIsStillAnEdge() {
        inputs.set(4, true);
        inputs.set(4, false);
        assertTrue(inputs.changed());
        assertEquals(List.of(new Change(4, true), new Change(4, false)), drain());
        assertFalse(inputs.changed());
        assertEquals(List.of(), drain());
        assertEquals(2, wakes.get(), "each change rang the vCPU");
    }

    @Test
    void levelsAreHandedOverOnceAndRedundantSetsAreIgnored() {
        inputs.set(11, true);
        inputs.set(11, true);
        assertEquals(1, wakes.get());
        assertEquals(List.of(new Change(11, true)), drain());
        inputs.set(11, false);
        assertEquals(List.of(new Change(11, false)), drain());
    }

    @Test
    void aLineThatDroppedAndRoseAgainShowsAFreshEdge() {
        inputs.set(9, true);
        drain();
        inputs.set(9, false);
        inputs.set(9, true);
        assertEquals(List.of(new Change(9, false), new Change(9, true)), drain());
    }

    @Test
    void concurrentDevicesEndWithTheirLastLevels() throws InterruptedException {
        Thread[] devices = new Thread[8];
        for (int d = 0; d < devices.length; d++) {
            int gsi = 16 + d;
            devices[d] = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 10_000; i++) {
                    inputs.set(gsi, i % 2 == 0);
                }
            });
        }
        for (Thread device : devices) {
            device.join();
        }
        List<Change> changes = drain();
        for (int d = 0; d < devices.length; d++) {
            int gsi = 16 + d;
            List<Change> mine = changes.stream().filter(c -> c.gsi() == gsi).toList();
            assertEquals(new Change(gsi, false), mine.getLast(), "line " + gsi + " ended low");
        }
    }

    @Test
    void linesOutsideTheTwentyFourGsisAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> inputs.set(24, true));
        assertThrows(IllegalArgumentException.class, () -> inputs.set(-1, true));
    }
}
