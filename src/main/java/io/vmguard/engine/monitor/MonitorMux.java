package io.vmguard.engine.monitor;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Shares one engine's {@link Monitoring} among several observers (the integrity monitor, system-call
 * tracing, the antivirus): each gets a {@link Monitoring} of its own from {@link #client}, arms its own plan,
 * and hears only the events its plan selects. The engine is armed with the union, and disarmed when every
 * plan is empty, so nothing is paid for what nobody watches.
 *
 * <p>{@link MonitorEvent.CodeExecution} is asked of every observer whose plan armed {@code codeExecutions}, and
 * their verdicts combine ({@link ExecutionVerdict#combine}: REFUSE over RETRY over RUN), so a frame is approved
 * only when all of them let it run. An observer arming {@code codeExecutions} (again) hears about every frame
 * afresh: the engine is re-armed with a new listener, which drops its approvals; arms that leave those observers
 * as they were keep the engine's listener, and its approvals.
 */
public final class MonitorMux {
    private final Monitoring engine;
    private final List<Client> clients = new ArrayList<>();
    /** Clients with a plan, read by vCPU threads on every event: replaced whole, never mutated. */
    private volatile List<Client> armed = List.of();
    /** What the engine is armed with; replaced when an observer newly asks about code executions (see above). */
    private Dispatcher dispatcher = new Dispatcher();

    public MonitorMux(Monitoring engine) {
        this.engine = engine;
    }

    /** A new observer's handle; {@code name} is for diagnostics. */
    public synchronized Monitoring client(String name) {
        Client client = new Client(name);
        clients.add(client);
        return client;
    }

    /** {@code freshCodeExecutions}: an observer (re-)armed code executions and must hear about every frame. */
    private synchronized void rearm(boolean freshCodeExecutions) {
        List<Client> active = clients.stream().filter(c -> c.plan != null && !c.plan.kinds().isEmpty()).toList();
        armed = active;
        if (active.isEmpty()) {
            engine.disarm();
            return;
        }
        BitSet frames = new BitSet();
        Set<Integer> controlRegisters = new HashSet<>();
        Set<Integer> msrs = new HashSet<>();
        boolean descriptorTables = false;
        BitSet systemCalls = new BitSet();
        boolean codeExecutions = false;
        for (Client client : active) {
            frames.or(client.plan.watchedFrames());
            controlRegisters.addAll(client.plan.controlRegisters());
            msrs.addAll(client.plan.msrs());
            descriptorTables |= client.plan.descriptorTables();
            systemCalls.or(client.plan.systemCalls());
            codeExecutions |= client.plan.codeExecutions();
        }
        if (codeExecutions && freshCodeExecutions) {
            dispatcher = new Dispatcher();
        }
        engine.arm(new MonitorPlan(frames, controlRegisters, msrs, descriptorTables, systemCalls, codeExecutions),
                dispatcher);
    }

    /** The engine's listener: hands each event to the observers whose plans select it. */
    private final class Dispatcher implements MonitorListener {
        @Override
        public void onEvent(MonitorEvent event) {
            for (Client client : armed) {
                MonitorPlan plan = client.plan;
                if (plan != null && selects(plan, event)) {
                    if (event instanceof MonitorEvent.PhysicalWrite write) {
                        client.written(write.address() >>> 12);
                    }
                    client.listener.onEvent(event);
                }
            }
        }

        @Override
        public ExecutionVerdict beforeExecution(MonitorEvent.CodeExecution event) {
            ExecutionVerdict verdict = ExecutionVerdict.RUN;
            for (Client client : armed) {
                MonitorPlan plan = client.plan;
                if (plan != null && plan.codeExecutions()) {
                    // Every observer is asked, even after a refusal: each may want to record the execution.
                    verdict = ExecutionVerdict.combine(verdict, client.listener.beforeExecution(event));
                }
            }
            return verdict;
        }
    }

    static boolean selects(MonitorPlan plan, MonitorEvent event) {
        return switch (event) {
            case MonitorEvent.PhysicalWrite write -> plan.watchedFrames().get(Math.toIntExact(write.address() >>> 12));
            case MonitorEvent.ControlRegisterWrite write -> plan.controlRegisters().contains(write.register());
            case MonitorEvent.MsrWrite write -> plan.msrs().contains(write.msr());
            case MonitorEvent.DescriptorTableLoad load -> plan.descriptorTables();
            case MonitorEvent.SystemCall call -> call.number() >= 0 && call.number() < MonitorPlan.MAX_SYSTEM_CALLS
                    && plan.systemCalls().get((int) call.number());
            case MonitorEvent.CodeExecution execution -> plan.codeExecutions();
        };
    }

    private final class Client implements Monitoring {
        private final String name;
        private volatile MonitorPlan plan;
        private volatile MonitorListener listener;
        private final BitSet written = new BitSet();

        Client(String name) {
            this.name = name;
        }

        @Override
        public Set<TrapKind> traps() {
            return engine.traps();
        }

        @Override
        public void arm(MonitorPlan newPlan, MonitorListener newListener) {
            listener = newListener;
            plan = newPlan;
            takeWrittenFrames();
            rearm(newPlan.codeExecutions());
        }

        @Override
        public void disarm() {
            plan = null;
            rearm(false);
        }

        void written(long frame) {
            synchronized (written) {
                written.set(Math.toIntExact(frame));
            }
        }

        @Override
        public BitSet takeWrittenFrames() {
            synchronized (written) {
                BitSet frames = (BitSet) written.clone();
                written.clear();
                return frames;
            }
        }

        @Override
        public String toString() {
            return "monitor client " + name;
        }
    }
}
