package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.engine.Registers;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The interpreter on random code: a page of random bytes runs in the long-mode sandbox (ring 3 or ring 0)
 * from random registers. Whatever it does, the vCPU must either keep running, stop for the VMM (I/O, MMIO,
 * HLT) or take a guest fault through the IDT, or shut down on a triple fault. Half the cases end at the first
 * fault (every vector's handler is a HLT); in the other half the handler resumes one byte past the faulting
 * instruction's start, so one case runs many random instructions. It must never end with InternalError ("interpreter: ...",
 * a Java exception escaped an instruction) and never ignore requestExit: each case runs for a few
 * milliseconds of guest time, then a watchdog asks it to stop, and run() has to return.
 */
class RandomCodeFuzzTest {
    private static final int CASES_PER_SEED = FuzzSeeds.scaled(80);
    private static final long GUEST_MILLIS = 5;
    /** How long run() may take to honour requestExit before the case counts as a hang. */
    private static final long HANG_SECONDS = 5;
    private static final int MAX_EXITS = 20_000;
    private static final long HALT_HANDLER = 0x9000;
    /** Resumes at the faulting RIP + 1; the second form first drops the error code. */
    private static final long RESUME_HANDLER = 0x9100;
    private static final long RESUME_AFTER_ERROR_HANDLER = 0x9200;
    private static final byte[] RESUME = {0x48, (byte) 0xff, 0x04, 0x24, 0x48, (byte) 0xcf};        // inc qword [rsp]; iretq
    private static final byte[] DROP_ERROR_CODE = {0x48, (byte) 0x83, (byte) 0xc4, 0x08};           // add rsp, 8
    /** A page of random data that register values point into, so some memory operands hit RAM. */
    private static final long DATA = 0x180000;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(
            runnable -> Thread.ofPlatform().daemon().name("fuzz-watchdog").unstarted(runnable));
    private static final ExecutorService VCPU_THREAD = Executors.newSingleThreadExecutor(
            runnable -> Thread.ofPlatform().daemon().name("fuzz-vcpu").unstarted(runnable));

    @AfterAll
    static void stopThreads() {
        WATCHDOG.shutdownNow();
        VCPU_THREAD.shutdownNow();
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomCodeInUserModeRunsOrFaultsButNeverBreaksTheInterpreter(long seed) throws Exception {
        runCases(seed, Ring.USER);
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomCodeInKernelModeRunsOrFaultsButNeverBreaksTheInterpreter(long seed) throws Exception {
        runCases(seed, Ring.KERNEL);
    }

    private void runCases(long seed, Ring ring) throws Exception {
        Random random = new Random(seed * 31 + ring.ordinal());
        int halted = 0;
        for (int n = 0; n < CASES_PER_SEED; n++) {
            boolean resume = n % 2 == 1;
            byte[] code = new byte[4096];
            if (n % 4 < 2) {
                random.nextBytes(code);
            } else {
                DecoderFuzzTest.fillInstructionLike(random, code);
            }
            byte[] data = new byte[4096];
            random.nextBytes(data);
            Registers registers = randomRegisters(random);
            long ioSeed = random.nextLong();
            String where = "seed " + seed + " case " + n + " " + ring + " " + FuzzSeeds.reproduce(seed);
            Future<VcpuExit> outcome = VCPU_THREAD.submit(() -> runCase(ring, resume, code, data, registers, ioSeed));
            VcpuExit exit;
            try {
                exit = outcome.get(GUEST_MILLIS + TimeUnit.SECONDS.toMillis(HANG_SECONDS), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                fail("run() did not return after requestExit: " + where + "\ncode " + HexFormat.of().formatHex(code));
                return;
            }
            if (exit instanceof VcpuExit.InternalError error) {
                fail(error.reason() + ": " + where + "\nregisters " + registers + "\ncode " + HexFormat.of().formatHex(code));
            }
            if (exit instanceof VcpuExit.Halt && !resume) {
                halted++;
            }
        }
        // The harness itself works: most random code faults quickly and reaches the handler's HLT.
        assertTrue(halted > CASES_PER_SEED / 8, "only " + halted + " cases reached a HLT");
    }

    /** Runs one case to its end: Halt, Shutdown, InternalError, or Interrupted when the watchdog stops it. */
    private static VcpuExit runCase(Ring ring, boolean resume, byte[] code, byte[] data, Registers registers, long ioSeed) throws Exception {
        Random io = new Random(ioSeed);
        try (PayloadMachine machine = PayloadMachine.create(new InterpEngine())) {
            LongModeSandbox.writeTables(machine.memory);
            machine.memory.writeByte(HALT_HANDLER, (byte) 0xf4); // HLT, with IF clear by the interrupt gate
            machine.memory.write(RESUME_HANDLER, RESUME);
            machine.memory.write(RESUME_AFTER_ERROR_HANDLER, DROP_ERROR_CODE);
            machine.memory.write(RESUME_AFTER_ERROR_HANDLER + DROP_ERROR_CODE.length, RESUME);
            for (int vector = 0; vector < 256; vector++) {
                long handler = !resume ? HALT_HANDLER
                        : vector < 32 && GuestFault.pushesErrorCode(vector) ? RESUME_AFTER_ERROR_HANDLER : RESUME_HANDLER;
                LongModeSandbox.setInterruptGate(machine.memory, vector, handler);
                // IST 1: ring-0 code with a random RSP still reaches its handler, rather than triple faulting.
                machine.memory.writeByte(LongModeSandbox.IDT + vector * 16L + 4, (byte) 1);
            }
            machine.memory.writeLong(LongModeSandbox.TSS + 0x24, LongModeSandbox.RING0_STACK_TOP);
            machine.memory.write(LongModeSandbox.PAYLOAD, code);
            machine.memory.write(DATA, data);
            machine.vcpu.setSpecialRegisters(LongModeSandbox.specialRegisters(machine.vcpu.specialRegisters(), ring));
            machine.vcpu.setRegisters(registers);
            ScheduledFuture<?> stop = WATCHDOG.schedule(machine.vcpu::requestExit, GUEST_MILLIS, TimeUnit.MILLISECONDS);
            try {
                for (int exits = 0; exits < MAX_EXITS; exits++) {
                    VcpuExit exit = machine.vcpu.run();
                    switch (exit) {
                        case VcpuExit.IoIn in -> randomFill(io, in.data());
                        case VcpuExit.MmioRead read -> randomFill(io, read.data());
                        case VcpuExit.IoOut out -> { }
                        case VcpuExit.MmioWrite write -> { }
                        default -> {
                            return exit;
                        }
                    }
                }
                return new VcpuExit.Interrupted();
            } finally {
                stop.cancel(false);
            }
        }
    }

    private static void randomFill(Random random, MemorySegment data) {
        for (long i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) random.nextInt());
        }
    }

    /** RIP at the page; the rest a mix of pointers into RAM, small numbers, boundaries and noise. */
    private static Registers randomRegisters(Random random) {
        long[] gpr = new long[16];
        for (int i = 0; i < 16; i++) {
            gpr[i] = switch (random.nextInt(6)) {
                case 0 -> DATA + random.nextInt(4096);
                case 1 -> LongModeSandbox.PAYLOAD + random.nextInt(4096);
                case 2 -> random.nextInt(64);
                case 3 -> new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 0xffff_ffffL, 0x8000_0000L}[random.nextInt(6)];
                default -> random.nextLong();
            };
        }
        gpr[4] = LongModeSandbox.STACK_TOP - 8 * random.nextInt(64);
        long rflags = Registers.RFLAGS_RESERVED | (random.nextBoolean() ? LongModeSandbox.RFLAGS_IOPL3 : 0)
                | (random.nextInt(4) == 0 ? 1 << 10 : 0); // DF sometimes
        return new Registers(gpr[0], gpr[3], gpr[1], gpr[2], gpr[6], gpr[7], gpr[4], gpr[5], gpr[8], gpr[9], gpr[10],
                gpr[11], gpr[12], gpr[13], gpr[14], gpr[15], LongModeSandbox.PAYLOAD, rflags);
    }
}
