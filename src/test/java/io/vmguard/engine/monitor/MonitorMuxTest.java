package io.vmguard.engine.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Observers share an engine's traps: the engine gets the union, each observer only its own events. */
class MonitorMuxTest {
    /** An engine that records what it was armed with and lets the test raise events. */
    static final class FakeEngine implements Monitoring {
        MonitorPlan plan;
        MonitorListener listener;

        @Override
        public Set<TrapKind> traps() {
            return EnumSet.allOf(TrapKind.class);
        }

        @Override
        public void arm(MonitorPlan newPlan, MonitorListener newListener) {
            plan = newPlan;
            listener = newListener;
        }

        @Override
        public void disarm() {
            plan = null;
            listener = null;
        }

        @Override
        public BitSet takeWrittenFrames() {
            return new BitSet();
        }
    }

    private static BitSet bits(int... values) {
        BitSet set = new BitSet();
        for (int value : values) {
            set.set(value);
        }
        return set;
    }

    @Test
    void theEngineIsArmedWithTheUnionAndEachObserverHearsOnlyWhatItAskedFor() {
        FakeEngine engine = new FakeEngine();
        MonitorMux mux = new MonitorMux(engine);
        Monitoring integrity = mux.client("integrity");
        Monitoring syscalls = mux.client("syscalls");
        List<MonitorEvent> heardByIntegrity = new ArrayList<>();
        List<MonitorEvent> heardBySyscalls = new ArrayList<>();

        integrity.arm(new MonitorPlan(bits(5), Set.of(0), Set.of(0xc000_0082), true, new BitSet(), false), heardByIntegrity::add);
        syscalls.arm(new MonitorPlan(new BitSet(), Set.of(), Set.of(), false, bits(59), false), heardBySyscalls::add);

        assertEquals(bits(5), engine.plan.watchedFrames());
        assertEquals(bits(59), engine.plan.systemCalls());
        assertTrue(engine.plan.descriptorTables());
        engine.listener.onEvent(new MonitorEvent.PhysicalWrite(0, 1, 2, 5L << 12, 8, 0, 1));
        engine.listener.onEvent(new MonitorEvent.SystemCall(0, 1, 2, 59, 0, 0, 0, 0));
        engine.listener.onEvent(new MonitorEvent.SystemCall(0, 1, 2, 60, 0, 0, 0, 0));

        assertEquals(1, heardByIntegrity.size());
        assertEquals(1, heardBySyscalls.size());
        assertEquals(bits(5), integrity.takeWrittenFrames());
        assertEquals(new BitSet(), syscalls.takeWrittenFrames());
    }

    @Test
    void whenEveryObserverDisarmsTheEngineIsDisarmed() {
        FakeEngine engine = new FakeEngine();
        MonitorMux mux = new MonitorMux(engine);
        Monitoring a = mux.client("a");
        Monitoring b = mux.client("b");
        a.arm(new MonitorPlan(bits(1), Set.of(), Set.of(), false, new BitSet(), false), e -> {});
        b.arm(new MonitorPlan(new BitSet(), Set.of(), Set.of(), false, bits(2), false), e -> {});
        a.disarm();
        assertEquals(bits(2), engine.plan.systemCalls());
        assertEquals(new BitSet(), engine.plan.watchedFrames());
        b.disarm();
        assertNull(engine.plan, "nothing armed, nothing paid");
    }
}
