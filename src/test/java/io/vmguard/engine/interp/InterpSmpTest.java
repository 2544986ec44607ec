package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two interpreted vCPUs on two threads over one memory (payload src/test/payloads/smp.S): locked instructions
 * stay atomic against each other and against plain stores, a spinlock built on XCHG protects plain increments,
 * and a fixed IPI wakes a halted vCPU. A plain (unlocked) read-modify-write from both threads loses updates on
 * real hardware; the counts here are exact only because the engine makes LOCK atomic across threads.
 */
class InterpSmpTest {
    private static final int ROUNDS = 20_000;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    @Test
    void lockedInstructionsSpinlocksAndIpisWorkAcrossTwoVcpuThreads() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "smp", Ring.KERNEL, false)) {
            Vcpu ap = machine.vm.createVcpu(1);
            LongModeSandbox.enter(ap, machine.memory, machine.payload(), Ring.KERNEL, false);
            ap.setRegisters(ap.registers().toBuilder().rsp(LongModeSandbox.STACK_TOP - 0x10000).build());
            ap.startRunning();
            LongModeSandbox.setInterruptGate(machine.memory, 0x42, machine.payload().symbol("ipi_handler"));

            CompletableFuture<VcpuExit.IoOut> apDone = CompletableFuture.supplyAsync(() -> {
                try {
                    return new PayloadHarness().runUntilPort(ap, PayloadHarness.NOTE_PORT, TIMEOUT);
                } catch (EngineException e) {
                    throw new IllegalStateException(e);
                }
            }, task -> Thread.ofPlatform().name("vcpu1").start(task));
            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, TIMEOUT));
            apDone.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

            var symbols = machine.payload();
            assertEquals(2L * ROUNDS, machine.memory.readLong(symbols.symbol("counter")), "LOCK INC");
            assertEquals(4L * ROUNDS, machine.memory.readLong(symbols.symbol("sum")), "LOCK XADD");
            assertEquals((ROUNDS & 0xff) | (ROUNDS & 0xff) << 8, machine.memory.readLong(symbols.symbol("bytes")) & 0xffff,
                    "LOCK INC of neighbouring bytes");
            assertEquals(2L * ROUNDS, machine.memory.readLong(symbols.symbol("guarded")), "plain increments under an XCHG spinlock");
            assertEquals(1, machine.memory.readInt(symbols.symbol("ipi_seen")), "the IPI's handler ran on vCPU 1");
        }
    }

    @Test
    void anApplicationProcessorWaitsForItsStartupIpiAndAPauseStillStopsIt() throws Exception {
        try (PayloadMachine machine = PayloadMachine.create(new InterpEngine())) {
            Vcpu ap = machine.vm.createVcpu(1);
            CompletableFuture<VcpuExit> run = CompletableFuture.supplyAsync(ap::run,
                    task -> Thread.ofPlatform().name("vcpu1").start(task));
            Thread.sleep(200);
            assertTrue(!run.isDone(), "an AP runs nothing before its start-up IPI");
            ap.requestExit();
            assertEquals(new VcpuExit.Interrupted(), run.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void vcpusAreCreatedBspFirstAndWithinTheLimit() throws Exception {
        try (var memory = io.vmguard.memory.GuestMemory.allocate(java.util.List.of(
                new io.vmguard.memory.GuestMemory.Range(0, LongModeSandbox.MIN_MEMORY)))) {
            InterpVm vm = new InterpVm(memory);
            assertThrows(EngineException.class, () -> vm.createVcpu(1), "an AP before the BSP");
            vm.createVcpu(0);
            assertThrows(EngineException.class, () -> vm.createVcpu(InterpVm.MAX_VCPUS));
            assertThrows(EngineException.class, () -> vm.createVcpu(0));
        }
    }

    @Test
    void aSnapshotCarriesEveryApplicationProcessorAndARestoreNeedsTheSameCount() throws Exception {
        try (PayloadMachine two = PayloadMachine.create(new InterpEngine());
             PayloadMachine one = PayloadMachine.create(new InterpEngine())) {
            two.vm.createVcpu(1);
            StateWriter saved = StateWriter.root();
            two.vm.saveState(saved);
            StateReader tree = StateReader.of(saved.tree());
            assertEquals(1, tree.list("application_processors", 10).size());
            SnapshotException refused = assertThrows(SnapshotException.class, () -> one.vm.restoreState(tree));
            assertTrue(refused.getMessage().contains("application_processors"), refused.getMessage());
        }
    }
}
