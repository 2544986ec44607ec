package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.EngineSmpContract;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.PayloadMachine;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two interpreted vCPUs on two threads: the {@link EngineSmpContract} in ring 0 (where the AP halts and the IPI
 * wakes it), and what is the interpreter's own: APs waiting for their start-up IPI, creation order, snapshots.
 */
class InterpSmpTest extends EngineSmpContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return PayloadMachine.start(new InterpEngine(), payload, ring, interruptsEnabled);
    }

    @Override
    protected Ring ring() {
        return Ring.KERNEL;
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
