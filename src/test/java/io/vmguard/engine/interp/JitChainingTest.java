package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.Registers;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import io.vmguard.testing.VcpuThread;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Compiled blocks chained to their successors (src/test/payloads/jit-chain.S): loops of several blocks give what the
 * interpreter alone gives (chained, and joined in regions), a successor rewritten between two chained entries runs as rewritten, and a pause
 * and an interrupt (src/test/payloads/jit-chain-irq.S) reach a vCPU that only ever goes from one compiled block to
 * the next. Every block compiles at its first execution (threshold 0).
 */
class JitChainingTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(20);

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"interpreter", "chained", "regions"})
    void loopsOfSeveralBlocksRunAsInterpretedAndSeeARewrittenSuccessor(String mode) throws Exception {
        JitOptions options = switch (mode) {
            case "chained" -> JitOptions.compileAtOnce().withoutRegions();
            case "regions" -> JitOptions.compileAtOnce();
            default -> JitOptions.off();
        };
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(options), "jit-chain", Ring.KERNEL, false)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            Registers r = machine.vcpu.registers();
            assertEquals(1000, r.rax(), "loop 1's rounds");
            assertEquals(1500, r.rbx(), "loop 1's odd rounds, three each");
            assertEquals(21, r.rsi(), "the successor's immediate, rewritten after the first round");
            if (options.enabled()) {
                InterpVm vm = (InterpVm) machine.vm;
                assertNull(vm.jitCompiler().lastFailure());
            }
            if (mode.equals("chained")) {
                assertTrue(((InterpVcpu) machine.vcpu).chainedEntries() >= 1000,
                        "loop 1 went from block to block chained: " + ((InterpVcpu) machine.vcpu).chainedEntries());
            }
            if (mode.equals("regions")) {
                InterpVm vm = (InterpVm) machine.vm;
                assertTrue(vm.jitCompiler().regionBlocks() > 0, "a loop's blocks were joined in one translation");
                assertTrue(((InterpVcpu) machine.vcpu).chainedEntries() < 100,
                        "loop 1 ran inside one region: " + ((InterpVcpu) machine.vcpu).chainedEntries() + " chained entries");
            }
        }
    }

    @Test
    void aPauseStopsALoopOfChainedBlocksWithinASecond() throws Exception {
        try (PayloadMachine machine = start(true)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            InterpVcpu vcpu = (InterpVcpu) machine.vcpu;
            long chainedBefore = vcpu.chainedEntries();
            VcpuThread thread = VcpuThread.start(vcpu::run);
            CompletableFuture<VcpuExit> result = thread.exit();
            Thread.sleep(300);
            assertNull(result.getNow(null), "the endless loop is still running");
            long asked = System.nanoTime();
            vcpu.requestExit();
            VcpuExit exit = result.get(1, TimeUnit.SECONDS);
            long millis = (System.nanoTime() - asked) / 1_000_000;
            thread.join();
            assertInstanceOf(VcpuExit.Interrupted.class, exit);
            assertTrue(millis < 1000, "paused " + millis + " ms after the request");
            Registers r = vcpu.registers();
            assertTrue(r.gpr(8) > 1000, "the loop went round: " + r.gpr(8));
            long rounds = r.gpr(8), odd = r.gpr(9);
            assertTrue(odd == rounds / 2 || odd == (rounds + 1) / 2, "R9 counts the odd rounds (" + odd + " of " + rounds
                    + "): the pause landed between two blocks");
            assertTrue(vcpu.chainedEntries() - chainedBefore > r.gpr(8), "the loop's blocks ran chained");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"chained", "regions"})
    void anInterruptRaisedDuringALoopOfCompiledBlocksIsTaken(String mode) throws Exception {
        JitOptions options = mode.equals("chained") ? JitOptions.compileAtOnce().withoutRegions() : JitOptions.compileAtOnce();
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(options), "jit-chain-irq", Ring.USER, true)) {
            LongModeSandbox.setInterruptGate(machine.memory, 0x25, machine.payload().symbol("irq5_handler"));
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            InterruptLine line = machine.vm.interruptLine(5);
            Thread pulser = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                line.pulse();
            });
            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT), "the loop ended: the handler ran");
            pulser.join();
            assertEquals(List.of(0x25L), harness.irq.writtenValues(), "the handler ran once, for vector 0x25");
            assertTrue(machine.vcpu.registers().gpr(8) > 1000, "the loop ran before the interrupt came");
            if (mode.equals("chained")) {
                assertTrue(((InterpVcpu) machine.vcpu).chainedEntries() > 1000, "the loop's blocks ran chained");
            }
        }
    }

    /** Regions off: each block is its own translation, so that going from one to the next is chaining. */
    private static PayloadMachine start(boolean jit) throws Exception {
        JitOptions options = jit ? JitOptions.compileAtOnce().withoutRegions() : JitOptions.off();
        return PayloadMachine.start(new InterpEngine(options), "jit-chain", Ring.KERNEL, false);
    }
}
