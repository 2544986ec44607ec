package io.vmguard.engine.interp;

import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.engine.interp.fpu.SoftFloat;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.kvm.KvmEngine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.Payload;
import io.vmguard.testing.PayloadAssembler;
import io.vmguard.testing.PayloadHarness;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiConsumer;

/**
 * Differential testing of floating-point and SIMD instructions, interpreter against the host CPU, through
 * each oracle of the run ({@link HostOracle#available()}: the host CPU in a Linux process everywhere, KVM's
 * guest ring 3 too where /dev/kvm opens): each {@link Test} is one instruction (or a few) run in a loop over
 * many input records, and every byte each record leaves behind must come out the same on every engine.
 *
 * <p>The whole batch is one generated payload (GNU as). Per test:
 * <pre>
 *   r13 = its input records, r14 = its output records, r15 = the count
 *   loop: setup (load the record's inputs), body (the instructions under test), capture (store the
 *         observable state into the output record), advance
 * </pre>
 * A record ({@link #RECORD} bytes, 16-byte aligned) is laid out as
 * <pre>
 *   0x00 V0: XMM0 or an 80-bit value     0x10 V1: XMM1 or an 80-bit value
 *   0x20 MEM: memory operand (loads read the input record's, stores write the output record's)
 *   0x30 MXCSR (x87 out: the status word after the body)   0x34 x87 control word
 *   0x38 RAX   0x40 RFLAGS (out: arithmetic flags and DF only; KVM's IF and IOPL differ in ring 3)   0x48 RDX
 *   0x50 scratch   0x70 MEM2   0x80 x87 out: FNSAVE image (108 bytes; the instruction and data pointers not compared)
 * </pre>
 * The x87 capture uses only non-waiting instructions (FNSTSW, FNSAVE), so a record may leave an unmasked
 * exception pending (the next record's FNINIT clears it) and the state it reached is compared as is.
 * A CPU exception ends the batch with the vector and RIP reported (ring-0 handlers for vectors 0-31; on the
 * host oracle, its signal handler).
 *
 * <p>The oracle is the host CPU, the interpreter an Intel one: a test whose output can show a documented
 * AMD/Intel difference marks the field ({@link Test#vendorSpecific}), and on an AMD host, only there, exactly
 * the documented pair of values compares equal there; the run reports how many records that took.
 */
public final class FpDifferentialRig {
    static final int RECORD = 0x100;
    static final int V0 = 0x00, V1 = 0x10, MEM = 0x20, MXCSR = 0x30, FCW = 0x34, RAX = 0x38, RFLAGS = 0x40, RDX = 0x48;
    static final int ENV = 0x50, MEM2 = 0x70, SAVE = 0x80;
    private static final long IN = 0x400000;
    private static final long FAULT_CELL = 0x3f0000;
    /**
     * The host oracle's FS base. Under the sandbox FS base is 0, and the stack protector of the linked C code
     * reads its canary at %fs:0x28, in the zero page at guest address 0; a Linux process cannot map page 0, so
     * on the host FS points at this page instead, as zero and as unused by the batches (between the ring-3
     * stack and the data at 0x300000).
     */
    private static final long HOST_FS_BASE = 0x2f0000;
    private static final Duration RUN_LIMIT = Duration.ofSeconds(50);

    static final String SSE_SETUP = """
            ldmxcsr 0x30(%r13)
            movdqu 0x00(%r13), %xmm0
            movdqu 0x10(%r13), %xmm1
            mov 0x38(%r13), %rax
            mov 0x48(%r13), %rdx
            pushq 0x40(%r13)
            popfq
            """;
    static final String SSE_CAPTURE = """
            pushfq
            popq 0x40(%r14)
            andq $0xcd5, 0x40(%r14)
            stmxcsr 0x30(%r14)
            movdqu %xmm0, 0x00(%r14)
            movdqu %xmm1, 0x10(%r14)
            mov %rax, 0x38(%r14)
            mov %rdx, 0x48(%r14)
            """;
    /** x87: ST0 = V0, ST1 = V1 (80-bit), control word from the record. */
    static final String X87_SETUP = """
            fninit
            fldcw 0x34(%r13)
            fldt 0x10(%r13)
            fldt 0x00(%r13)
            mov 0x38(%r13), %rax
            pushq 0x40(%r13)
            popfq
            """;
    static final String X87_CAPTURE = """
            pushfq
            popq 0x40(%r14)
            andq $0xcd5, 0x40(%r14)
            fnstsw 0x30(%r14)
            mov %rax, 0x38(%r14)
            fnsave 0x80(%r14)
            """;

    /** One instruction under test: its code, how its records are filled, and which output bytes count. */
    static final class Test {
        final String name;
        final String setup;
        final String body;
        final String capture;
        final int records;
        final BiConsumer<Random, ByteBuffer> input;
        /** Output bytes not compared (per record offset). */
        final boolean[] ignored = new boolean[RECORD];
        int index;
        long inBase;
        long outBase;
        /** A documented AMD/Intel difference in one output field, or null: see {@link #vendorSpecific}. */
        VendorDifference vendorDifference;
        int vendorOffset;
        int vendorLength;
        long vendorHostValue;
        long vendorInterpValue;

        Test(String name, String setup, String body, String capture, int records, BiConsumer<Random, ByteBuffer> input) {
            this.name = name;
            this.setup = setup;
            this.body = body;
            this.capture = capture;
            this.records = records;
            this.input = input;
            ignore(SAVE + 12, SAVE + 28); // FNSAVE's instruction and data pointers: not modelled
        }

        /**
         * Output bytes [offset, offset + length) (at most 8, little-endian) can show the vendor difference
         * {@code d}: where it applies (an AMD host), a record whose host value there is exactly {@code hostValue}
         * and whose interpreter value is exactly {@code interpValue} agrees in that field; any other pair still
         * differs. Elsewhere the mark changes nothing.
         */
        Test vendorSpecific(VendorDifference d, int offset, int length, long hostValue, long interpValue) {
            vendorDifference = d;
            vendorOffset = offset;
            vendorLength = length;
            vendorHostValue = hostValue;
            vendorInterpValue = interpValue;
            return this;
        }

        /** Leaves output bytes [from, to) of every record out of the comparison. */
        Test ignore(int from, int to) {
            for (int i = from; i < to; i++) {
                ignored[i] = true;
            }
            return this;
        }
    }

    private final String name;
    private final long seed;
    final Random random;
    private final List<Test> tests = new ArrayList<>();

    FpDifferentialRig(String name, long seed) {
        this.name = name;
        this.seed = seed;
        this.random = new Random(seed);
    }

    /** -Dvmguard.diff.scale=N runs N times as many records per test (for a long soak; the default is 1). */
    private static final int SCALE = Integer.getInteger("vmguard.diff.scale", 1);

    Test add(String testName, String setup, String body, String capture, int records, BiConsumer<Random, ByteBuffer> input) {
        Test t = new Test(testName, setup, body, capture, records * SCALE, input);
        t.index = tests.size();
        tests.add(t);
        return t;
    }

    Test sse(String testName, String body, int records, BiConsumer<Random, ByteBuffer> input) {
        return add(testName, SSE_SETUP, body, SSE_CAPTURE, records, input);
    }

    Test x87(String testName, String body, int records, BiConsumer<Random, ByteBuffer> input) {
        return add(testName, X87_SETUP, body, X87_CAPTURE, records, input);
    }

    private final List<Path> objects = new ArrayList<>();
    private final Map<Long, byte[]> data = new HashMap<>();

    /** Links an object file into the payload (its .text; e.g. functions the tests call). */
    void link(Path object) {
        objects.add(object);
    }

    private final StringBuilder extraSource = new StringBuilder();

    /** Assembly appended to the payload (e.g. data the linked objects need, in .text). */
    void asm(String source) {
        extraSource.append(source).append('\n');
    }

    /** Guest memory both engines start with at {@code address} (0x300000-0x3dffff is free for it). */
    void data(long address, byte[] bytes) {
        data.put(address, bytes);
    }

    List<Test> tests() {
        return tests;
    }

    int records() {
        return tests.stream().mapToInt(t -> t.records).sum();
    }

    // ---- payload ----

    private String source() {
        StringBuilder s = new StringBuilder(256 * 1024);
        s.append("# generated by FpDifferentialRig for ").append(name).append(", seed ").append(seed).append('\n');
        s.append(".text\n.globl _start\n_start:\n");
        for (Test t : tests) {
            s.append("test_").append(t.index).append(":\n");
            s.append("    mov $0x").append(Long.toHexString(t.inBase)).append(", %r13\n");
            s.append("    mov $0x").append(Long.toHexString(t.outBase)).append(", %r14\n");
            s.append("    mov $").append(t.records).append(", %r15\n");
            s.append("1:\n");
            for (String part : new String[] {t.setup, t.body, t.capture}) {
                for (String line : part.split("[\n;]")) {
                    if (!line.isBlank()) {
                        s.append("    ").append(line.strip()).append('\n');
                    }
                }
            }
            s.append("    add $").append(RECORD).append(", %r13\n");
            s.append("    add $").append(RECORD).append(", %r14\n");
            s.append("    dec %r15\n    jnz 1b\n");
        }
        s.append("    mov $").append(PayloadHarness.EXIT_PORT).append(", %dx\n    xor %eax, %eax\nbatch_exit:\n    out %al, %dx\n    jmp .\n");
        s.append(extraSource);
        for (int vector = 0; vector < 32; vector++) {
            s.append("fault_").append(vector).append(":\n");
            if (hasErrorCode(vector)) {
                s.append("    add $8, %rsp\n");
            }
            s.append("    mov (%rsp), %rax\n    mov %rax, 0x").append(Long.toHexString(FAULT_CELL)).append('\n');
            s.append("    mov %r15, 0x").append(Long.toHexString(FAULT_CELL + 8)).append('\n');
            s.append("    mov $").append(PayloadHarness.EXIT_PORT).append(", %dx\n    mov $").append(100 + vector)
                    .append(", %eax\n    out %al, %dx\n    jmp .\n");
        }
        return s.toString();
    }

    private static boolean hasErrorCode(int vector) {
        return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30;
    }

    private Payload assemble() {
        Path out = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "difftest");
        Path source = out.resolve(name + ".S");
        Path object = out.resolve(name + ".o");
        Path elf = out.resolve(name + ".elf");
        Path binary = out.resolve(name + ".bin");
        try {
            Files.createDirectories(out);
            Files.writeString(source, source());
            PayloadAssembler.run("as", "--64", "-o", object.toString(), source.toString());
            List<String> link = new ArrayList<>(List.of("ld", "-m", "elf_x86_64", "-nostdlib", "-static", "-N", "--build-id=none",
                    "-Ttext=0x" + Long.toHexString(LongModeSandbox.PAYLOAD), "-e", "_start", "-o", elf.toString(), object.toString()));
            objects.forEach(o -> link.add(o.toString()));
            PayloadAssembler.run(link.toArray(String[]::new));
            PayloadAssembler.run("objcopy", "-O", "binary", "--only-section=.text", "--only-section=.rodata", "--only-section=.data",
                    elf.toString(), binary.toString());
            Map<String, Long> symbols = PayloadAssembler.symbolsOf(elf);
            byte[] code = Files.readAllBytes(binary);
            if (code.length > LongModeSandbox.STACK_TOP - LongModeSandbox.PAYLOAD - 0x10000) {
                throw new IllegalStateException("batch " + name + " too large: " + code.length + " bytes of code");
            }
            return new Payload(name, LongModeSandbox.PAYLOAD, code, Map.copyOf(symbols));
        } catch (IOException e) {
            throw new IllegalStateException("cannot assemble " + source + ": " + e.getMessage(), e);
        }
    }

    // ---- running ----

    private byte[] inputs;
    private long outBase;
    private long memorySize;

    private void layout() {
        long total = records();
        long in = IN;
        for (Test t : tests) {
            t.inBase = in;
            in += (long) t.records * RECORD;
        }
        outBase = (in + 0xfffff) & ~0xfffffL;
        for (Test t : tests) {
            t.outBase = outBase + (t.inBase - IN);
        }
        memorySize = (outBase + total * RECORD + 0x1fffff) & ~0x1fffffL;
        inputs = new byte[(int) (total * RECORD)];
        ByteBuffer buffer = ByteBuffer.wrap(inputs).order(ByteOrder.LITTLE_ENDIAN);
        for (Test t : tests) {
            for (int r = 0; r < t.records; r++) {
                ByteBuffer record = buffer.slice((int) (t.inBase - IN) + r * RECORD, RECORD).order(ByteOrder.LITTLE_ENDIAN);
                record.putInt(MXCSR, 0x1f80);
                record.putShort(FCW, (short) 0x037f);
                record.putLong(RFLAGS, 0x202 & ~0x200);
                t.input.accept(random, record);
            }
        }
    }

    /**
     * Runs the batch on {@code engine}, or on the host process when it is null (see {@link HostOracle}: there a
     * fault ends the batch as the ring-0 handlers do, with the RIP and R15 in {@link #FAULT_CELL}).
     */
    private byte[] runOn(Engine engine, Payload payload) throws EngineException, NativeException {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, memorySize)))) {
            memory.write(LongModeSandbox.PAYLOAD, payload.code());
            memory.write(IN, inputs);
            data.forEach(memory::write);
            VirtualMachine vm = engine == null ? null : engine.createVm(memory);
            try (Vcpu vcpu = vm == null ? null : vm.createVcpu(0)) {
                int status;
                if (vcpu == null) {
                    HostOracle.End end = HostOracle.run(memory, name, LongModeSandbox.PAYLOAD, memorySize, payload.symbol("_start"),
                            payload.symbol("batch_exit"), LongModeSandbox.STACK_TOP, HOST_FS_BASE, 0, 0, 0);
                    status = end.exited() ? 0 : 100 + (int) end.vector();
                    if (!end.exited()) {
                        memory.writeLong(FAULT_CELL, end.rip());
                        memory.writeLong(FAULT_CELL + 8, end.r15());
                    }
                } else {
                    LongModeSandbox.enter(vcpu, memory, payload, Ring.USER, false);
                    for (int vector = 0; vector < 32; vector++) {
                        LongModeSandbox.setInterruptGate(memory, vector, payload.symbol("fault_" + vector));
                    }
                    status = new PayloadHarness().runToExit(vcpu, RUN_LIMIT);
                }
                if (status != 0) {
                    long rip = memory.readLong(FAULT_CELL);
                    long remaining = memory.readLong(FAULT_CELL + 8);
                    String where = "";
                    for (Test t : tests) {
                        // The code of each test lies between its label and the next one.
                        if (payload.symbols().containsKey("test_" + t.index) && rip >= payload.symbol("test_" + t.index)
                                && (t.index + 1 == tests.size() || rip < payload.symbol("test_" + (t.index + 1)))) {
                            where = " in test '" + t.name + "' record " + (t.records - remaining);
                        }
                    }
                    String fault = "exception vector " + (status - 100) + " at rip 0x" + Long.toHexString(rip) + where;
                    if (faults != null) {
                        faults.add(fault);
                        return null;
                    }
                    throw new AssertionError((engine == null ? "host" : engine.name()) + ": " + fault);
                }
                return memory.readBytes(outBase, inputs.length);
            } finally {
                if (vm != null) {
                    vm.close();
                }
            }
        }
    }

    private byte[] interpreterOutputs;
    /** When collecting: the exception that ended each run, instead of a failure. */
    private List<String> faults;

    /**
     * Runs a batch that is expected to end in a CPU exception on every oracle ({@link HostOracle#available()})
     * and the interpreter; returns, per oracle by label and then for the interpreter under "interp", the
     * exception and where it happened, or "none".
     */
    Map<String, String> faultsOnEveryEngine() throws EngineException, NativeException {
        List<HostOracle.Oracle> oracles = HostOracle.available();
        layout();
        Payload payload = assemble();
        Map<String, String> result = new java.util.LinkedHashMap<>();
        for (HostOracle.Oracle o : oracles) {
            faults = new ArrayList<>();
            runOn(o == HostOracle.Oracle.KVM ? new KvmEngine() : null, payload);
            result.put(o.label, faults.isEmpty() ? "none" : faults.get(0));
        }
        faults = new ArrayList<>();
        runOn(new InterpEngine(), payload);
        result.put("interp", faults.isEmpty() ? "none" : faults.get(0));
        faults = null;
        return result;
    }

    /** Runs the batch on the interpreter alone (no KVM needed), for tests with fixed expected results. */
    void runInterpreterOnly() throws EngineException, NativeException {
        layout();
        interpreterOutputs = runOn(new InterpEngine(), assemble());
    }

    /** The input record {@code record} of {@code test} (once laid out). */
    ByteBuffer input(Test test, int record) {
        return ByteBuffer.wrap(inputs, (int) (test.inBase - IN) + record * RECORD, RECORD).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Runs the batch on every oracle ({@link HostOracle#available()}) and on the interpreter; returns their
     * outputs, for {@link #output(byte[], Test, int)}: per oracle by label.
     */
    Outputs runOnEveryEngine() throws EngineException, NativeException {
        layout();
        Payload payload = assemble();
        byte[] interpreter = runOn(new InterpEngine(JitOptions.off()), payload);
        // The JIT compiling every block at its first execution must leave exactly what the interpreter left: checked
        // first, so that a host with no oracle still checks it before the test is skipped.
        byte[] jit = runOn(new InterpEngine(JitOptions.compileAtOnce()), payload);
        if (!java.util.Arrays.equals(interpreter, jit)) {
            throw new AssertionError("jit: outputs differ from the interpreter's at byte " + java.util.Arrays.mismatch(interpreter, jit));
        }
        Map<String, byte[]> outputs = new java.util.LinkedHashMap<>();
        for (HostOracle.Oracle o : HostOracle.available()) {
            outputs.put(o.label, runOn(o == HostOracle.Oracle.KVM ? new KvmEngine() : null, payload));
        }
        return new Outputs(outputs, interpreter);
    }

    /** What {@link #runOnEveryEngine()} gives: each oracle's outputs by label, and the interpreter's. */
    record Outputs(Map<String, byte[]> oracles, byte[] interpreter) {}

    /** The output record {@code record} of {@code test} in the outputs of one run. */
    ByteBuffer output(byte[] outputs, Test test, int record) {
        return ByteBuffer.wrap(outputs, (int) (test.inBase - IN) + record * RECORD, RECORD).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The output record {@code record} of {@code test} after {@link #runInterpreterOnly()}. */
    ByteBuffer output(Test test, int record) {
        return ByteBuffer.wrap(interpreterOutputs, (int) (test.inBase - IN) + record * RECORD, RECORD).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Runs the batch on both engines; returns the disagreements, described (empty when none). */
    List<String> differences() throws EngineException, NativeException {
        Outputs outputs = runOnEveryEngine();
        oraclesRun = List.copyOf(outputs.oracles().keySet());
        vendorRules = new VendorDifference.Tally();
        List<String> differences = new ArrayList<>();
        outputs.oracles().forEach((label, oracle) -> differences.addAll(differences(label, oracle, outputs.interpreter())));
        return differences;
    }

    /** The oracles of the last {@link #differences()}, by label. */
    List<String> oraclesRun = List.of();

    private List<String> differences(String label, byte[] oracle, byte[] interp) {
        List<String> differences = new ArrayList<>();
        HexFormat hex = HexFormat.of();
        for (Test t : tests) {
            int shown = 0;
            int count = 0;
            for (int r = 0; r < t.records; r++) {
                int base = (int) (t.inBase - IN) + r * RECORD;
                if (t.vendorDifference != null && t.vendorDifference.appliesOnThisHost() && normalise(t, oracle, interp, base)) {
                    vendorRules.add(t.vendorDifference);
                }
                StringBuilder diff = new StringBuilder();
                for (int field = 0; field < RECORD; field += 16) {
                    boolean differs = false;
                    for (int i = field; i < field + 16; i++) {
                        if (!t.ignored[i] && oracle[base + i] != interp[base + i]) {
                            differs = true;
                        }
                    }
                    if (differs) {
                        diff.append(String.format("%n      +%02x in   %s%n            %-4s %s%n            intp %s", field,
                                hex.formatHex(inputs, base + field, base + field + 16), label,
                                hex.formatHex(oracle, base + field, base + field + 16),
                                hex.formatHex(interp, base + field, base + field + 16)));
                    }
                }
                if (!diff.isEmpty()) {
                    count++;
                    if (shown++ < 4) {
                        differences.add(label + ": '" + t.name + "' record " + r + ": mxcsr/fcw in "
                                + hex.formatHex(inputs, base + MXCSR, base + MXCSR + 8) + ", inputs V0 V1 MEM "
                                + hex.formatHex(inputs, base, base + 16) + " " + hex.formatHex(inputs, base + 16, base + 32)
                                + " " + hex.formatHex(inputs, base + 32, base + 48) + diff);
                    }
                }
            }
            if (count > 4) {
                differences.add(label + ": '" + t.name + "': " + (count - 4) + " more records differ");
            }
        }
        return differences;
    }

    /** The records the vendor rules took in the last {@link #differences()}. */
    VendorDifference.Tally vendorRules = new VendorDifference.Tally();

    /**
     * Where the host's output record at {@code base} holds exactly the documented vendor value of {@code t}'s
     * marked field and the interpreter's exactly the Intel one, overwrites the host's with the interpreter's (so
     * the rest of the record is compared as usual) and returns true; otherwise changes nothing.
     */
    static boolean normalise(Test t, byte[] oracle, byte[] interp, int base) {
        int at = base + t.vendorOffset;
        if (t.vendorHostValue == t.vendorInterpValue || field(oracle, at, t.vendorLength) != t.vendorHostValue
                || field(interp, at, t.vendorLength) != t.vendorInterpValue) {
            return false;
        }
        System.arraycopy(interp, at, oracle, at, t.vendorLength);
        return true;
    }

    /** The {@code length}-byte little-endian field at {@code at}. */
    private static long field(byte[] bytes, int at, int length) {
        long value = 0;
        for (int i = length - 1; i >= 0; i--) {
            value = value << 8 | (bytes[at + i] & 0xff);
        }
        return value;
    }

    void assertAgree() throws EngineException, NativeException {
        List<String> differences = differences();
        System.out.printf("differential %s against %s: %d tests, %d records, seed %d, %d disagreements; %s%n", name,
                String.join(" and ", oraclesRun), tests.size(), records(), seed, differences.size(), vendorRules);
        if (!differences.isEmpty()) {
            StringBuilder message = new StringBuilder(name + ": interpreter disagrees with " + String.join("/", oraclesRun) + " (seed " + seed
                    + "; -Dvmguard.diff.seed=N to change it; " + vendorRules + "):\n");
            differences.stream().limit(60).forEach(d -> message.append(d).append('\n'));
            throw new AssertionError(message.toString());
        }
    }

    /** The seed for a test: -Dvmguard.diff.seed if given, else a fixed one per test name. */
    static long seedFor(String test) {
        String property = System.getProperty("vmguard.diff.seed");
        long base = property != null ? Long.parseLong(property) : 0x5eed_2026L;
        return base * 31 + test.hashCode();
    }

    // ---- operand generators ----

    private static final long[] DOUBLE_SPECIALS = {
            0, Long.MIN_VALUE, 0x7ff0_0000_0000_0000L, 0xfff0_0000_0000_0000L, // zeros, infinities
            0x7ff8_0000_0000_0000L, 0xfff8_0000_0000_0000L, 0x7ff8_0000_0000_1234L, 0x7fff_ffff_ffff_ffffL, // QNaNs
            0x7ff0_0000_0000_0001L, 0xfff4_0000_0000_0000L, 0x7ff7_ffff_ffff_ffffL, // SNaNs
            1, 0x8000_0000_0000_0001L, 0x000f_ffff_ffff_ffffL, 0x0008_0000_0000_0000L, // denormals
            0x0010_0000_0000_0000L, 0x8010_0000_0000_0000L, 0x7fef_ffff_ffff_ffffL, 0xffef_ffff_ffff_ffffL,
            0x3ff0_0000_0000_0000L, 0xbff0_0000_0000_0000L, 0x3fe0_0000_0000_0000L, 0x4008_0000_0000_0000L,
            0x4000_0000_0000_0000L, 0x3ff0_0000_0000_0001L, 0x3fef_ffff_ffff_ffffL,
    };

    private static final int[] FLOAT_SPECIALS = {
            0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000, 0x7fc1_2345, 0x7fff_ffff,
            0x7f80_0001, 0xffa0_0000, 0x7fbf_ffff, 1, 0x8000_0001, 0x007f_ffff, 0x0040_0000,
            0x0080_0000, 0x8080_0000, 0x7f7f_ffff, 0xff7f_ffff, 0x3f80_0000, 0xbf80_0000, 0x3f00_0000,
            0x4040_0000, 0x3f80_0001, 0x3f7f_ffff,
    };

    /** A double: specials, ordinary numbers, numbers near the ends of the range, random bits. */
    public static long randomDouble(Random r) {
        long sign = r.nextBoolean() ? Long.MIN_VALUE : 0;
        return switch (r.nextInt(12)) {
            case 0, 1 -> DOUBLE_SPECIALS[r.nextInt(DOUBLE_SPECIALS.length)];
            case 2 -> sign | ((long) (1023 + r.nextInt(21) - 10) << 52) | (r.nextLong() & 0xf_ffff_ffff_ffffL);
            case 3 -> sign | ((long) (r.nextInt(60) + 1) << 52) | (r.nextLong() & 0xf_ffff_ffff_ffffL); // near underflow
            case 4 -> sign | ((long) (2046 - r.nextInt(40)) << 52) | (r.nextLong() & 0xf_ffff_ffff_ffffL); // near overflow
            case 5 -> sign | (r.nextLong() & 0xf_ffff_ffff_ffffL >>> r.nextInt(52)); // denormal
            case 6 -> Double.doubleToRawLongBits((r.nextInt(2001) - 1000) / 4.0);
            case 7 -> sign | ((long) (1023 + r.nextInt(21) - 10) << 52) | (r.nextLong() & 0xf_ffff_0000_0000L);
            default -> sign | ((long) (1023 + r.nextInt(400) - 200) << 52) | (r.nextLong() & 0xf_ffff_ffff_ffffL);
        };
    }

    public static int randomFloat(Random r) {
        int sign = r.nextBoolean() ? 0x8000_0000 : 0;
        return switch (r.nextInt(12)) {
            case 0, 1 -> FLOAT_SPECIALS[r.nextInt(FLOAT_SPECIALS.length)];
            case 2 -> sign | ((127 + r.nextInt(21) - 10) << 23) | (r.nextInt() & 0x7fffff);
            case 3 -> sign | ((r.nextInt(30) + 1) << 23) | (r.nextInt() & 0x7fffff);
            case 4 -> sign | ((254 - r.nextInt(30)) << 23) | (r.nextInt() & 0x7fffff);
            case 5 -> sign | ((r.nextInt() & 0x7fffff) >>> r.nextInt(23));
            case 6 -> Float.floatToRawIntBits((r.nextInt(2001) - 1000) / 4.0f);
            case 7 -> sign | ((127 + r.nextInt(21) - 10) << 23) | (r.nextInt() & 0x7ff000);
            default -> sign | ((127 + r.nextInt(200) - 100) << 23) | (r.nextInt() & 0x7fffff);
        };
    }

    /** A second operand: unrelated, or close to the first (cancellation, ties, equal values). */
    public static long relatedDouble(Random r, long a) {
        return switch (r.nextInt(8)) {
            case 0 -> a;
            case 1 -> a ^ Long.MIN_VALUE;
            case 2 -> a + r.nextInt(5) - 2;
            case 3 -> (a ^ Long.MIN_VALUE) + r.nextInt(5) - 2;
            case 4 -> a + ((long) (r.nextInt(120) - 60) << 52);
            default -> randomDouble(r);
        };
    }

    static int relatedFloat(Random r, int a) {
        return switch (r.nextInt(8)) {
            case 0 -> a;
            case 1 -> a ^ 0x8000_0000;
            case 2 -> a + r.nextInt(5) - 2;
            case 3 -> (a ^ 0x8000_0000) + r.nextInt(5) - 2;
            case 4 -> a + ((r.nextInt(50) - 25) << 23);
            default -> randomFloat(r);
        };
    }

    /** An 80-bit value as its significand and sign/exponent: specials, odd encodings, ordinary and extreme numbers. */
    static long[] randomExtended(Random r) {
        int sign = r.nextBoolean() ? 0x8000 : 0;
        long top = 0x8000_0000_0000_0000L;
        return switch (r.nextInt(16)) {
            case 0 -> new long[] {0, sign};
            case 1 -> new long[] {top, sign | 0x7fff}; // infinity
            case 2 -> new long[] {top | (1L << 62) | (r.nextBoolean() ? 0 : r.nextLong() >>> 2), sign | 0x7fff}; // QNaN
            case 3 -> new long[] {top | 1 + (r.nextLong() >>> 3), sign | 0x7fff}; // SNaN
            case 4 -> new long[] {r.nextLong() >>> 1 >>> r.nextInt(63), sign}; // denormal
            case 5 -> new long[] {top | r.nextLong(), sign}; // pseudo-denormal
            case 6 -> new long[] {r.nextLong() >>> 1, sign | (1 + r.nextInt(0x7ffe))}; // unnormal: unsupported
            case 7 -> new long[] {top | r.nextLong(), sign | (1 + r.nextInt(70))}; // near underflow
            case 8 -> new long[] {top | r.nextLong(), sign | (0x7ffe - r.nextInt(70))}; // near overflow
            case 9 -> { // a double's value
                long d = randomDouble(r);
                SoftFloat.Num n = SoftFloat.fromDouble(d);
                yield new long[] {SoftFloat.extendedSignificand(n), SoftFloat.extendedSignExponent(n)};
            }
            case 10 -> { // an integer
                long v = r.nextLong() >> r.nextInt(64);
                if (v == 0) {
                    yield new long[] {0, 0};
                }
                long m = Math.abs(v);
                int z = Long.numberOfLeadingZeros(m);
                yield new long[] {m << z, (v < 0 ? 0x8000 : 0) | (0x3fff + 63 - z)};
            }
            case 11 -> new long[] {top | (r.nextLong() & ~0xffffL), sign | (0x3fff + r.nextInt(40) - 20)};
            case 12 -> new long[] {top | (r.nextBoolean() ? 0 : r.nextLong() & 0xff), sign | (0x3fff + r.nextInt(8) - 4)};
            default -> new long[] {top | r.nextLong(), sign | (0x3fff + r.nextInt(400) - 200)};
        };
    }

    /** A second 80-bit operand related to the first: equal, negated, a few units apart, a power of two apart. */
    static long[] relatedExtended(Random r, long[] a) {
        return switch (r.nextInt(8)) {
            case 0 -> a.clone();
            case 1 -> new long[] {a[0], a[1] ^ 0x8000};
            case 2 -> new long[] {a[0] + r.nextInt(5) - 2, a[1]};
            case 3 -> new long[] {a[0] + r.nextInt(5) - 2, a[1] ^ 0x8000};
            case 4 -> new long[] {a[0], (a[1] & 0x8000) | Math.clamp((a[1] & 0x7fff) + r.nextInt(150) - 75, 1, 0x7ffe)};
            default -> randomExtended(r);
        };
    }

    static void putExtended(ByteBuffer b, int offset, long[] value) {
        b.putLong(offset, value[0]).putShort(offset + 8, (short) value[1]);
    }

    /** An x87 control word: random rounding and precision control, all exceptions masked but now and then. */
    static int randomFcw(Random r) {
        int fcw = 0x003f | (r.nextInt(4) << 10);
        int pc = r.nextInt(8);
        fcw |= (pc < 5 ? 3 : pc == 5 ? 2 : pc == 6 ? 0 : 1) << 8;
        if (r.nextInt(16) != 0) {
            fcw |= 0x40;
        }
        if (r.nextInt(10) == 0) {
            fcw &= ~(1 << r.nextInt(6));
        }
        return fcw;
    }

    /** MXCSR with all exceptions masked: a random rounding mode, sometimes DAZ/FTZ or preset sticky flags. */
    static int randomMxcsr(Random r) {
        int mxcsr = 0x1f80 | (r.nextInt(4) << 13);
        if (r.nextInt(4) == 0) {
            mxcsr |= 1 << 6;
        }
        if (r.nextInt(4) == 0) {
            mxcsr |= 1 << 15;
        }
        if (r.nextInt(8) == 0) {
            mxcsr |= r.nextInt(64);
        }
        return mxcsr;
    }

    /** Random bytes with structure: equal and zero bytes, extremes. */
    static long randomVector(Random r) {
        return switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> r.nextLong() & 0x8080_8080_8080_8080L >> r.nextInt(8);
            case 3 -> {
                long v = 0;
                int[] picks = {0, 0x7f, 0x80, 0xff, 1, 0xfe, 0x81};
                for (int i = 0; i < 8; i++) {
                    v |= (long) picks[r.nextInt(picks.length)] << (8 * i);
                }
                yield v;
            }
            default -> r.nextLong();
        };
    }
}
