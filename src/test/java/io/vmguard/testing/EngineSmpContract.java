package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.sys.NativeException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two vCPUs of one engine on two threads over one memory (payload src/test/payloads/smp.S): locked instructions
 * (byte, doubleword across an 8-byte boundary, quadword, CMPXCHG16B) stay atomic against each other and against
 * plain stores, a spinlock built on XCHG protects plain increments,
 * and a fixed IPI reaches the other vCPU. A plain (unlocked) read-modify-write from both threads loses updates,
 * so the counts are exact only where the engine makes LOCK atomic across threads (the interpreter without its
 * atomic path does not even get through the payload's barrier).
 */
public abstract class EngineSmpContract {
    private static final int ROUNDS = 20_000;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    /** A machine with vCPU 0 about to run {@code payload} in {@code ring}, interrupts as given. */
    protected abstract PayloadMachine start(String payload, LongModeSandbox.Ring ring, boolean interruptsEnabled)
            throws EngineException, NativeException;

    /** The ring this engine runs the payload in (ring 0 where it can, for HLT). */
    protected abstract LongModeSandbox.Ring ring();

    @Test
    void lockedInstructionsSpinlocksAndIpisWorkAcrossTwoVcpuThreads() throws Exception {
        boolean user = ring() == LongModeSandbox.Ring.USER;
        try (PayloadMachine machine = start("smp", ring(), user)) {
            Vcpu ap = machine.vm.createVcpu(1);
            LongModeSandbox.enter(ap, machine.memory, machine.payload(), ring(), user);
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
            try {
                assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, TIMEOUT));
                apDone.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } finally {
                ap.requestExit();
                apDone.handle((exit, error) -> null).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            }

            Payload payload = machine.payload();
            assertEquals(2L * ROUNDS, machine.memory.readLong(payload.symbol("counter")), "LOCK INC");
            assertEquals(4L * ROUNDS, machine.memory.readLong(payload.symbol("sum")), "LOCK XADD");
            assertEquals((ROUNDS & 0xff) | (ROUNDS & 0xff) << 8, machine.memory.readLong(payload.symbol("bytes")) & 0xffff,
                    "LOCK INC of neighbouring bytes");
            long split = payload.symbol("split");
            assertEquals(2L * ROUNDS, (machine.memory.readLong(split) >>> 48) | (machine.memory.readLong(split + 8) & 0xffff) << 16,
                    "LOCK INC of a doubleword across an 8-byte boundary");
            assertEquals(2L * ROUNDS, machine.memory.readLong(payload.symbol("pair")), "CMPXCHG16B, low half");
            assertEquals(2L * ROUNDS, machine.memory.readLong(payload.symbol("pair") + 8), "CMPXCHG16B, high half");
            assertEquals(2L * ROUNDS, machine.memory.readLong(payload.symbol("guarded")),
                    "plain increments under an XCHG spinlock");
            assertEquals(1, machine.memory.readInt(payload.symbol("ipi_seen")), "the IPI's handler ran on vCPU 1");
        }
    }
}
