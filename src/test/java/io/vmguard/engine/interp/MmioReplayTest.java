package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MmioReplayTest {
    @Test
    void answersAreReplayedInOrderOnEachRun() {
        MmioReplay replay = new MmioReplay();
        assertFalse(replay.next(0x1000, 4), "nothing answered yet: stop for the VMM");
        replay.record(0x1000, 4, 0xaa);
        assertTrue(replay.restart());
        assertTrue(replay.next(0x1000, 4));
        assertEquals(0xaa, replay.consume());
        assertFalse(replay.next(0x1004, 4), "the second read is not answered yet");
        replay.record(0x1004, 4, 0xbb);
        assertTrue(replay.restart());
        assertTrue(replay.next(0x1000, 4));
        assertEquals(0xaa, replay.consume(), "the first device read is not made again");
        assertTrue(replay.next(0x1004, 4));
        assertEquals(0xbb, replay.consume());
        replay.clear();
        assertFalse(replay.active());
    }

    @Test
    void aRunThatTakesAnotherPathDropsTheStaleAnswers() {
        MmioReplay replay = new MmioReplay();
        replay.record(0x1000, 4, 1);
        replay.record(0x2000, 4, 2);
        replay.restart();
        assertTrue(replay.next(0x1000, 4));
        replay.consume();
        assertFalse(replay.next(0x3000, 4), "a different second read");
        replay.record(0x3000, 4, 3);
        replay.restart();
        replay.next(0x1000, 4);
        replay.consume();
        assertTrue(replay.next(0x3000, 4));
        assertEquals(3, replay.consume());
    }

    @Test
    void anInstructionThatNeverCompletesIsCaughtByTheBounds() {
        MmioReplay replay = new MmioReplay();
        int restarts = 0;
        // A path that changes on every run: always a new first read, so nothing is ever reused.
        while (replay.hasRoom()) {
            assertFalse(replay.next(restarts, 1));
            replay.record(restarts, 1, 0);
            if (!replay.restart()) {
                break;
            }
            restarts++;
        }
        assertEquals(MmioReplay.MAX_RESTARTS, restarts, "the runs are bounded");

        MmioReplay many = new MmioReplay();
        for (int i = 0; i < MmioReplay.MAX_READS; i++) {
            assertTrue(many.hasRoom());
            many.record(i, 1, 0);
        }
        assertFalse(many.hasRoom(), "more reads than any instruction makes");
    }
}
