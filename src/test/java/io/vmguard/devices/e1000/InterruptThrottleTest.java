package io.vmguard.devices.e1000;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** ITR as the line sees it: up at once the first time, then no sooner than the interval; down at once. */
class InterruptThrottleTest {
    private final AtomicLong want = new AtomicLong(InterruptThrottle.IDLE);
    private final List<Boolean> levels = new CopyOnWriteArrayList<>();
    private final List<Long> raisedAt = new CopyOnWriteArrayList<>();
    private final InterruptThrottle throttle = new InterruptThrottle(want::get, level -> {
        levels.add(level);
        if (level) {
            raisedAt.add(System.nanoTime());
        }
    }, "test-itr");

    @AfterEach
    void close() {
        throttle.close();
    }

    @Test
    void withoutAnIntervalTheLineFollowsAtOnce() {
        want.set(0);
        throttle.update();
        want.set(InterruptThrottle.IDLE);
        throttle.update();
        want.set(0);
        throttle.update();
        throttle.update(); // no change, no edge
        assertEquals(List.of(true, false, true), levels);
    }

    @Test
    void aSecondAssertionWaitsForTheIntervalAndTheTimerBringsIt() throws Exception {
        long interval = 50_000_000L;
        want.set(interval);
        throttle.update();
        want.set(InterruptThrottle.IDLE);
        throttle.update();
        want.set(interval);
        throttle.update();
        assertEquals(List.of(true, false), levels, "held back");
        long start = System.nanoTime();
        while (levels.size() < 3 && System.nanoTime() - start < 2_000_000_000L) {
            Thread.sleep(1);
        }
        assertEquals(List.of(true, false, true), levels);
        assertTrue(raisedAt.get(1) - raisedAt.get(0) >= interval, "spaced by the interval");
    }

    @Test
    void whileHeldNothingChanges() {
        want.set(0);
        throttle.update();
        want.set(InterruptThrottle.HOLD);
        throttle.update();
        assertEquals(List.of(true), levels, "a paused card raises and lowers nothing");
    }
}
