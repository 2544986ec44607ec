package io.vmguard.engine.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.FakeMonitoring;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Observers share an engine's traps: the engine gets the union, each observer only its own events. */
class MonitorMuxTest {
    private static BitSet bits(int... values) {
        BitSet set = new BitSet();
        for (int value : values) {
            set.set(value);
        }
        return set;
    }

    @Test
    void theEngineIsArmedWithTheUnionAndEachObserverHearsOnlyWhatItAskedFor() {
        FakeMonitoring engine = new FakeMonitoring();
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

    /** An observer of code executions that answers {@code verdict} and counts the questions. */
    private static final class Answering implements MonitorListener {
        final ExecutionVerdict verdict;
        int asked;

        Answering(ExecutionVerdict verdict) {
            this.verdict = verdict;
        }

        @Override
        public void onEvent(MonitorEvent event) {
            throw new AssertionError("a code execution is asked about, not told: " + event);
        }

        @Override
        public ExecutionVerdict beforeExecution(MonitorEvent.CodeExecution event) {
            asked++;
            return verdict;
        }
    }

    private static final MonitorEvent.CodeExecution EXECUTION = new MonitorEvent.CodeExecution(0, 0x1000, 0x2000, 0x1000, true);
    private static final MonitorPlan CODE = MonitorPlan.empty().withCodeExecutions(true);

    @Test
    void verdictsCombineRefuseOverRetryOverRunAndOnlyObserversOfCodeExecutionsAreAsked() {
        FakeMonitoring engine = new FakeMonitoring();
        MonitorMux mux = new MonitorMux(engine);
        Answering run = new Answering(ExecutionVerdict.RUN);
        Answering retry = new Answering(ExecutionVerdict.RETRY);
        Answering refuse = new Answering(ExecutionVerdict.REFUSE);
        Answering notArmedForCode = new Answering(ExecutionVerdict.REFUSE);
        Monitoring a = mux.client("run");
        Monitoring b = mux.client("retry");
        Monitoring c = mux.client("refuse");
        mux.client("syscalls").arm(MonitorPlan.empty().withSystemCalls(bits(1)), notArmedForCode);

        assertTrue(engine.plan.kinds().equals(EnumSet.of(TrapKind.SYSTEM_CALL)));
        assertEquals(ExecutionVerdict.RUN, engine.listener.beforeExecution(EXECUTION), "nobody asks: it runs");
        a.arm(CODE, run);
        assertTrue(engine.plan.codeExecutions());
        assertEquals(ExecutionVerdict.RUN, engine.listener.beforeExecution(EXECUTION));
        b.arm(CODE, retry);
        assertEquals(ExecutionVerdict.RETRY, engine.listener.beforeExecution(EXECUTION));
        c.arm(CODE, refuse);
        assertEquals(ExecutionVerdict.REFUSE, engine.listener.beforeExecution(EXECUTION));
        assertEquals(3, run.asked, "asked every time, even when another refuses");
        assertEquals(2, retry.asked);
        assertEquals(1, refuse.asked);
        assertEquals(0, notArmedForCode.asked);

        c.disarm();
        assertEquals(ExecutionVerdict.RETRY, engine.listener.beforeExecution(EXECUTION));
        b.disarm();
        a.disarm();
        assertTrue(!engine.plan.codeExecutions(), "code executions disarmed with their last observer");
    }

    @Test
    void aListenerThatOnlyWatchesHearsCodeExecutionsAsEventsAndLetsThemRun() {
        List<MonitorEvent> heard = new ArrayList<>();
        MonitorListener watcher = heard::add;
        assertEquals(ExecutionVerdict.RUN, watcher.beforeExecution(EXECUTION));
        assertEquals(List.of(EXECUTION), heard);
    }

    @Test
    void theEngineIsArmedWithANewListenerOnlyWhenAnObserverArmsCodeExecutions() {
        FakeMonitoring engine = new FakeMonitoring();
        MonitorMux mux = new MonitorMux(engine);
        Monitoring av = mux.client("av");
        Monitoring syscalls = mux.client("syscalls");
        av.arm(CODE, new Answering(ExecutionVerdict.RUN));
        MonitorListener first = engine.listener;

        syscalls.arm(MonitorPlan.empty().withSystemCalls(bits(3)), e -> {});
        syscalls.disarm();
        assertSame(first, engine.listener, "other observers' arms keep the engine's approvals");

        av.arm(CODE, new Answering(ExecutionVerdict.RUN));
        assertNotSame(first, engine.listener, "an observer arming code executions hears every frame afresh");
    }

    @Test
    void whenEveryObserverDisarmsTheEngineIsDisarmed() {
        FakeMonitoring engine = new FakeMonitoring();
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
