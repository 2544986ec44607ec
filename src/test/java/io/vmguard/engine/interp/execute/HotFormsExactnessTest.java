package io.vmguard.engine.interp.execute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Decoder;
import io.vmguard.engine.interp.decode.HotForms;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.mmu.CodePageEpoch;
import io.vmguard.engine.interp.mmu.LongModeMmus;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.memory.GuestMemory;
import io.vmguard.testing.FuzzSeeds;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hot forms of 64-bit mode's stack, branch, LEA and MOV-immediate instructions ({@link HotForms}) do exactly
 * what the generic handler does with the same instruction not narrowed: registers, RIP, flags, memory, and the
 * fault (vector, error code, CR2) with nothing changed before it. Each form runs from random states chosen to
 * reach the edges: a stack at the end of mapped memory, at the canonical boundary or above it, return addresses
 * and branch targets that are not canonical. The differential tests check both against the JIT and the host CPU;
 * this one needs neither.
 */
class HotFormsExactnessTest {
    private static final long TWO_MIB = 2L << 20;
    /** Linear 0-6 MiB is identity-mapped RAM (2 MiB pages); 6 MiB and everything above it is not present. */
    private static final long MAPPED_END = 3 * TWO_MIB;
    private static final long PAGE_TABLES = 0x1000, DATA = 0x200000, STACK = 0x300000;
    /** Where the instructions may read or write: compared after each case. */
    private static final long[][] WINDOWS = {{0, 0x1000}, {DATA, 0x10000}, {STACK, 0x1000}, {MAPPED_END - 0x1000, 0x1000}};
    private static final int CASES_PER_FORM = FuzzSeeds.scaled(100);

    /** The instructions with a hot form, in the shapes compilers emit them; each must be narrowed. */
    private static final String[] FORMS = {
        "50", "53", "54", "4150", "4157",                   // PUSH RAX, RBX, RSP, R8, R15
        "58", "5c", "5d", "4158", "415f",                   // POP RAX, RSP, RBP, R8, R15
        "488d448b10", "8d0424", "678d4310", "488d05f0ffffff", "4c8d7c24f0", "8d4c0904", // LEA
        "b878563412", "41bf01000080", "48b8efcdab8967452301",                            // MOV r, imm
        "c70078563412", "48c740f8f0ffffff", "48c7442408ffffff7f", "65c7042510000000aa000000", // MOV [m], imm
        "e800000000", "e8f0ffffff", "e810000080",           // CALL rel32
        "c3", "c20800", "c2ffff",                           // RET, RET imm16
        "7405", "75f0", "0f8c10000000", "0f8ff0ffff7f", "7a02", "7802", // Jcc rel8 and rel32
        "eb10", "e9f0ffffff", "e900000080",                 // JMP rel8 and rel32
    };

    private static Machine hot;
    private static Machine generic;

    @BeforeAll
    static void machines() throws Exception {
        hot = new Machine();
        generic = new Machine();
    }

    @AfterAll
    static void close() {
        hot.memory.close();
        generic.memory.close();
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void eachHotFormDoesWhatTheGenericHandlerDoes(long seed) {
        Random random = new Random(seed);
        int faults = 0;
        int runs = 0;
        for (String form : FORMS) {
            byte[] bytes = HexFormat.of().parseHex(form);
            for (int i = 0; i < CASES_PER_FORM; i++) {
                long stateSeed = random.nextLong();
                Instruction narrowed = decode(bytes);
                int genericOp = narrowed.op;
                HotForms.narrow(narrowed);
                assertNotEquals(genericOp, narrowed.op, form + " has a hot form");
                hot.reset(stateSeed);
                generic.reset(stateSeed);
                String hotOutcome = hot.run(() -> assertTrue(hot.executor.executeHot(narrowed), form + " runs on the hot path"));
                String genericOutcome = generic.run(() -> generic.executor.executeCold(decode(bytes)));
                String what = form + " from state " + stateSeed + " " + FuzzSeeds.reproduce(seed);
                assertEquals(genericOutcome, hotOutcome, what);
                for (long[] window : WINDOWS) {
                    long mismatch = hot.memory.slice(window[0], window[1]).mismatch(generic.memory.slice(window[0], window[1]));
                    if (mismatch >= 0) {
                        fail(String.format("%s: memory at 0x%x differs", what, window[0] + mismatch));
                    }
                }
                if (hotOutcome.startsWith("fault")) {
                    faults++;
                } else {
                    runs++;
                }
            }
        }
        // The random states must reach both ends: instructions that complete and instructions that fault.
        assertTrue(faults > FORMS.length * CASES_PER_FORM / 20, "faults: " + faults);
        assertTrue(runs > FORMS.length * CASES_PER_FORM / 4, "completed: " + runs);
    }

    private static Instruction decode(byte[] bytes) {
        return new Decoder(address -> bytes[(int) address] & 0xff).decode(0, 64);
    }

    /** Guest RAM with its page tables, and an executor over it in 64-bit mode at CPL 0. */
    private static final class Machine {
        final GuestMemory memory;
        final CpuState cpu = new CpuState();
        final Executor executor;

        Machine() throws Exception {
            memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, MAPPED_END)));
            cpu.cr0 = SpecialRegisters.CR0_PE | SpecialRegisters.CR0_PG;
            cpu.cr4 = SpecialRegisters.CR4_PAE;
            cpu.efer = SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA;
            cpu.cr3 = PAGE_TABLES;
            cpu.codeBits = 64;
            Mmu mmu = new Mmu(cpu, memory, LongModeMmus.RAM_ONLY, new CodePageEpoch(() -> {}));
            executor = new Executor(cpu, mmu, new NoPlatform());
        }

        /** The same registers, flags and memory contents for the same seed. */
        void reset(long seed) {
            Random random = new Random(seed);
            memory.writeLong(PAGE_TABLES, (PAGE_TABLES + 0x1000) | 0x7);
            memory.writeLong(PAGE_TABLES + 0x1000, (PAGE_TABLES + 0x2000) | 0x7);
            for (int i = 0; i < 3; i++) {
                memory.writeLong(PAGE_TABLES + 0x2000 + 8L * i, i * TWO_MIB | 0x87); // P, W, U, 2 MiB
            }
            // Stack slots hold return addresses of every kind; the data (page 0 and DATA) only has to match.
            for (long at = STACK; at < STACK + 0x1000; at += 8) {
                memory.writeLong(at, pointer(random));
            }
            for (long at = MAPPED_END - 0x1000; at < MAPPED_END; at += 8) {
                memory.writeLong(at, pointer(random));
            }
            memory.slice(DATA, 0x10000).fill((byte) seed);
            for (int r = 0; r < 16; r++) {
                cpu.gpr[r] = pointer(random);
            }
            cpu.gpr[CpuState.RSP] = stackPointer(random);
            cpu.rip = switch (random.nextInt(4)) {
                case 0 -> 0x0000_7fff_ffff_fff0L - random.nextInt(16);
                case 1 -> 0xffff_8000_0000_0010L - random.nextInt(32);
                default -> 0x40_0000L + random.nextInt(0x10000);
            };
            cpu.gsBase = DATA;
            cpu.fsBase = 0;
            cpu.cr2 = 0;
            // Flags recorded lazily by an ALU operation, as Jcc finds them in guest code.
            Alu.binary(cpu, random.nextInt(8), pointer(random), pointer(random), random.nextBoolean() ? 8 : 4);
        }

        /** A register value that is, as often as not, an address the instructions can reach. */
        private static long pointer(Random random) {
            return switch (random.nextInt(8)) {
                case 0, 1, 2 -> DATA + random.nextInt(0x8000);
                case 3 -> MAPPED_END - 16 + random.nextInt(32);
                case 4 -> 0x0000_7fff_ffff_fff0L + random.nextInt(32); // up to the canonical boundary and past it
                case 5 -> 0xffff_8000_0000_0000L - 16 + random.nextInt(32);
                case 6 -> random.nextInt(64);
                default -> random.nextLong();
            };
        }

        private static long stackPointer(Random random) {
            return switch (random.nextInt(8)) {
                case 0, 1, 2 -> STACK + 0x800 + 8L * random.nextInt(64);
                case 3 -> STACK + 0x100 + random.nextInt(64);               // not 8-byte aligned
                case 4 -> MAPPED_END - 4 + random.nextInt(16);              // slots across the end of RAM
                case 5 -> 0x0000_8000_0000_0000L - 4 + random.nextInt(16);  // non-canonical: #SS
                case 6 -> 0xffff_8000_0000_0000L - 4 + random.nextInt(16);
                default -> random.nextInt(24);                              // PUSH wraps below 0
            };
        }

        /** Runs one instruction; what it left: registers, RIP, flags, or the fault it raised (and CR2). */
        String run(Runnable instruction) {
            String fault = "none";
            try {
                instruction.run();
            } catch (GuestFault f) {
                fault = "fault " + f.vector + (f.hasErrorCode ? " error " + f.errorCode : "") + " cr2 " + Long.toHexString(cpu.cr2);
            }
            return fault + ", rip " + Long.toHexString(cpu.rip) + ", rflags " + Long.toHexString(cpu.rflags())
                    + ", registers " + Arrays.toString(Arrays.stream(cpu.gpr).mapToObj(Long::toHexString).toArray());
        }
    }

    /** None of these instructions reaches the platform. */
    private static final class NoPlatform implements Executor.Platform {
        @Override
        public void portIn(Instruction insn, int port, int size) {
            throw new AssertionError("port I/O");
        }

        @Override
        public void portOut(int port, int size, long value) {
            throw new AssertionError("port I/O");
        }

        @Override
        public void system(Instruction insn) {
            throw new AssertionError("a system instruction");
        }

        @Override
        public void softwareInterrupt(int vector) {
            throw new AssertionError("a software interrupt");
        }

        @Override
        public boolean attentionNeeded() {
            return false;
        }
    }
}
