package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.monitor.ExecutionVerdict;
import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorListener;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * The interpreter asks before the first instruction from each frame runs, and again after the frame changes,
 * whoever changed it (src/test/payloads/codegate.S: code in frames A-D, B changed by the guest and then by the
 * test as a device would); the verdict decides whether it runs.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpCodeExecutionTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final long A = 0x100000, B = 0x101000, C = 0x102000, D = 0x103000;
    private static final long MARKER = 0x104000;

    /** Records every question and answers as {@code verdicts} says. */
    private static final class Gate implements MonitorListener {
        final List<MonitorEvent.CodeExecution> asked = new ArrayList<>();
        final List<MonitorEvent> others = new ArrayList<>();
        private final Function<MonitorEvent.CodeExecution, ExecutionVerdict> verdicts;

        Gate(Function<MonitorEvent.CodeExecution, ExecutionVerdict> verdicts) {
            this.verdicts = verdicts;
        }

        Gate() {
            this(event -> ExecutionVerdict.RUN);
        }

        @Override
        public void onEvent(MonitorEvent event) {
            others.add(event);
        }

        @Override
        public ExecutionVerdict beforeExecution(MonitorEvent.CodeExecution event) {
            asked.add(event);
            return verdicts.apply(event);
        }

        List<Long> frames() {
            return asked.stream().map(MonitorEvent.CodeExecution::frame).toList();
        }

        long askedAbout(long frame) {
            return asked.stream().filter(e -> e.frame() == frame).count();
        }
    }

    private static MonitorPlan codeExecutions() {
        return MonitorPlan.empty().withCodeExecutions(true);
    }

    private static PayloadMachine start() throws Exception {
        return start(Ring.KERNEL);
    }

    private static PayloadMachine start(Ring ring) throws Exception {
        PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "codegate", ring, false);
        LongModeSandbox.setInterruptGate(machine.memory, 13, machine.payload().symbol("gp_handler"));
        return machine;
    }

    /** Runs to the note, changes func's immediate to 3 as a device's DMA would, and runs to the exit. */
    private static void runWithDeviceWrite(PayloadMachine machine, PayloadHarness harness) throws EngineException {
        harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, LIMIT);
        deviceWritesFunc(machine);
        assertEquals(0, harness.runToExit(machine.vcpu, LIMIT));
    }

    private static void deviceWritesFunc(PayloadMachine machine) {
        long immediate = machine.payload().symbol("func_imm");
        machine.memory.writeInt(immediate, 3);
        machine.vm.guestMemoryWrittenByDevice(immediate, 4);
    }

    private static List<Long> results(PayloadHarness harness) {
        return harness.results.writtenValues();
    }

    @Test
    void codeADeviceRewroteRunsAsRewrittenNotAsDecodedBefore() throws Exception {
        try (PayloadMachine machine = start()) {
            PayloadHarness harness = new PayloadHarness();
            runWithDeviceWrite(machine, harness);
            assertEquals(List.of(1L, 2L, 3L, 5L, 5L), results(harness), "func's third run returns what the device wrote");
        }
    }

    @Test
    void eachFrameIsAskedAboutBeforeItsFirstInstructionAndAgainAfterEachChange() throws Exception {
        try (PayloadMachine machine = start()) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            assertTrue(monitoring.traps().contains(TrapKind.CODE_EXECUTION));
            Gate gate = new Gate();
            monitoring.arm(codeExecutions(), gate);
            PayloadHarness harness = new PayloadHarness();
            runWithDeviceWrite(machine, harness);

            assertEquals(List.of(1L, 2L, 3L, 5L, 5L), results(harness));
            // A once; B first, after the guest's write, after the device's; the straddling MOV asks for C and D,
            // once each (its second run, and the RET in D, ask nothing).
            assertEquals(List.of(A, B, B, B, C, D), gate.frames(), gate.asked::toString);
            var payload = machine.payload();
            List<Long> rips = gate.asked.stream().map(MonitorEvent.CodeExecution::rip).toList();
            long func = payload.symbol("func"), straddle = payload.symbol("straddle");
            assertEquals(List.of(payload.symbol("_start"), func, func, func, straddle, straddle), rips);
            assertTrue(gate.asked.stream().allMatch(e -> e.vcpu() == 0 && !e.userMode() && e.cr3() == LongModeSandbox.PML4),
                    gate.asked::toString);
            assertEquals(List.of(), gate.others, "a code-execution question is not also an event");
        }
    }

    @Test
    void aRefusedInstructionDoesNotRunTheGuestGetsGpAtItAndItIsAskedAgainNextTime() throws Exception {
        try (PayloadMachine machine = start()) {
            long[] refusals = {1};
            Gate gate = new Gate(event -> event.frame() == B && refusals[0]-- > 0 ? ExecutionVerdict.REFUSE : ExecutionVerdict.RUN);
            machine.vm.monitoring().orElseThrow().arm(codeExecutions(), gate);
            PayloadHarness harness = new PayloadHarness();
            runWithDeviceWrite(machine, harness);

            long func = machine.payload().symbol("func");
            // The handler reports the #GP's RIP, returns to func, which is asked again, allowed and runs.
            assertEquals(List.of(func, 1L, 2L, 3L, 5L, 5L), results(harness));
            assertEquals(3, machine.memory.readInt(MARKER), "the refused run did not count");
            assertEquals(4, gate.askedAbout(B), gate.asked::toString);
        }
    }

    @Test
    void userCodeIsAskedAboutAsUserModeAndARefusedUserInstructionFaultsIntoTheKernel() throws Exception {
        try (PayloadMachine machine = start(Ring.USER)) {
            long[] refusals = {1};
            Gate gate = new Gate(event -> event.frame() == B && refusals[0]-- > 0 ? ExecutionVerdict.REFUSE : ExecutionVerdict.RUN);
            machine.vm.monitoring().orElseThrow().arm(codeExecutions(), gate);
            PayloadHarness harness = new PayloadHarness();
            runWithDeviceWrite(machine, harness);

            assertEquals(List.of(machine.payload().symbol("func"), 1L, 2L, 3L, 5L, 5L), results(harness));
            assertEquals(List.of(A, B, B, B, B, C, D), gate.frames());
            assertTrue(gate.asked.stream().allMatch(MonitorEvent.CodeExecution::userMode), gate.asked::toString);
        }
    }

    @Test
    void retryReturnsToTheVmmBeforeTheInstructionAndAsksAgainWhenRunAgain() throws Exception {
        try (PayloadMachine machine = start()) {
            long[] retries = {1};
            Gate gate = new Gate(event -> {
                if (event.frame() == B && retries[0]-- > 0) {
                    machine.vcpu.requestExit(); // as the VMM's pause does
                    return ExecutionVerdict.RETRY;
                }
                return ExecutionVerdict.RUN;
            });
            machine.vm.monitoring().orElseThrow().arm(codeExecutions(), gate);

            VcpuExit exit = machine.vcpu.run();
            assertInstanceOf(VcpuExit.Interrupted.class, exit);
            long func = machine.payload().symbol("func");
            assertEquals(func, machine.vcpu.registers().rip(), "stopped on the instruction");
            assertEquals(0, machine.memory.readInt(MARKER), "nothing of func ran");
            assertEquals(List.of(A, B), gate.frames());

            // The pause's exit was this one: running again goes straight on (a second Interrupted would fail).
            PayloadHarness harness = new PayloadHarness();
            runWithDeviceWrite(machine, harness);
            assertEquals(List.of(1L, 2L, 3L, 5L, 5L), results(harness));
            assertEquals(List.of(A, B, B, B, B, C, D), gate.frames());
        }
    }

    @Test
    void codeDecodedWhileADeviceWroteItsFrameIsNotKeptButAskedAboutAgainOnceTheWriteIsDone() throws Exception {
        try (PayloadMachine machine = start()) {
            long immediate = machine.payload().symbol("func_imm");
            Thread[] device = new Thread[1];
            Gate gate = new Gate(event -> {
                if (event.frame() == B && device[0] == null) {
                    // A device's DMA into B is under way while the listener looks: the bytes change after it read.
                    machine.vm.guestMemoryWriteBegins(immediate, 4);
                    machine.memory.writeInt(immediate, 7);
                    device[0] = Thread.ofPlatform().start(() -> {
                        try {
                            Thread.sleep(100);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        machine.vm.guestMemoryWriteEnds(immediate, 4);
                    });
                }
                return ExecutionVerdict.RUN;
            });
            machine.vm.monitoring().orElseThrow().arm(codeExecutions(), gate);
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, LIMIT);
            device[0].join();

            assertEquals(List.of(7L, 2L), results(harness), "func ran what the device wrote");
            assertEquals(List.of(A, B, B, B), gate.frames(), "asked again after the write, then after the guest's patch");
        }
    }

    @Test
    void framesDecodedBeforeArmingAreAskedAboutAtTheirNextExecution() throws Exception {
        try (PayloadMachine machine = start()) {
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, LIMIT); // A and B decoded, unasked
            Gate gate = new Gate();
            machine.vm.monitoring().orElseThrow().arm(codeExecutions(), gate);
            assertEquals(0, harness.runToExit(machine.vcpu, LIMIT));

            assertEquals(List.of(A, B, C, D), gate.frames(), gate.asked::toString);
        }
    }

    @Test
    void nothingIsAskedWhenCodeExecutionsAreNotArmed() throws Exception {
        try (PayloadMachine machine = start()) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            Gate armedThenDisarmed = new Gate();
            monitoring.arm(codeExecutions(), armedThenDisarmed);
            monitoring.disarm();
            BitSet calls = new BitSet();
            calls.set(39);
            Gate otherTraps = new Gate();
            monitoring.arm(MonitorPlan.empty().withSystemCalls(calls), otherTraps);

            PayloadHarness harness = new PayloadHarness();
            runWithDeviceWrite(machine, harness);

            assertEquals(List.of(1L, 2L, 3L, 5L, 5L), results(harness));
            assertEquals(List.of(), armedThenDisarmed.asked);
            assertEquals(List.of(), otherTraps.asked);
        }
    }

    @Test
    void reArmingWithTheSameListenerKeepsApprovalsAndANewListenerAsksAfresh() throws Exception {
        try (PayloadMachine machine = start()) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            Gate gate = new Gate();
            monitoring.arm(codeExecutions(), gate);
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, LIMIT);
            assertEquals(List.of(A, B, B), gate.frames());

            monitoring.arm(codeExecutions().withSystemCalls(new BitSet()), gate);
            Gate fresh = new Gate();
            assertEquals(0, harness.runToExit(machine.vcpu, LIMIT));
            assertEquals(List.of(A, B, B, C, D), gate.frames(), "A and B stay approved");

            monitoring.arm(codeExecutions(), fresh);
            machine.load(machine.payload(), Ring.KERNEL, false);
            LongModeSandbox.setInterruptGate(machine.memory, 13, machine.payload().symbol("gp_handler"));
            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, LIMIT));
            assertEquals(List.of(A, B, B, C, D), fresh.frames(), "every frame again, for the new listener");
        }
    }
}
