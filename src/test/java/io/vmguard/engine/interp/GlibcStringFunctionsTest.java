package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.MEM;
import static io.vmguard.engine.interp.FpDifferentialRig.RAX;
import static io.vmguard.engine.interp.FpDifferentialRig.RDX;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * glibc's own SSE2 string functions (the ones its ifuncs pick on a CPU with SSE2 and nothing newer, as the
 * interpreter's CPUID says), taken from the host's libc.a and run on the interpreter: strlen, strnlen,
 * memchr, strchr, strrchr, strcmp, memcmp, memcpy, memset, strcpy over strings that end near page
 * boundaries and at every alignment. The results are checked against Java, and against the host CPU.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class GlibcStringFunctionsTest {
    private static final Path LIBC = Path.of("/usr/lib/x86_64-linux-gnu/libc.a");
    private static final String[] OBJECTS = {
            "strlen-sse2.o", "strnlen-sse2.o", "memchr-sse2.o", "strchr-sse2.o", "strrchr-sse2.o", "strcmp-sse2.o",
            "memcmp-sse2.o", "memmove-sse2-unaligned-erms.o", "memset-sse2-unaligned-erms.o", "strcpy-sse2.o",
    };
    private static final long DATA = 0x300000;
    private static final int HALF = 0x8000;
    private static final int RECORDS = 250;
    /** Output record area for memcpy/memset/strcpy destinations. */
    private static final int DEST = 0x80;

    private final byte[] data = new byte[2 * HALF];
    private final Random random = new Random(7);

    private FpDifferentialRig rig(String name) throws IOException {
        assumeTrue(Files.isReadable(LIBC), LIBC + " is absent (Debian: libc6-dev)");
        Path dir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "glibc-sse2");
        Files.createDirectories(dir);
        FpDifferentialRig rig = new FpDifferentialRig(name, 1);
        for (String object : OBJECTS) {
            Path file = dir.resolve(object);
            if (!Files.exists(file)) {
                run(dir, "ar", "x", LIBC.toString(), object);
            }
            assumeTrue(Files.exists(file), object + " not in " + LIBC);
            rig.link(file);
        }
        rig.asm("""
                .globl __x86_rep_movsb_threshold, __x86_rep_stosb_threshold, __x86_shared_non_temporal_threshold
                .globl __x86_rep_movsb_stop_threshold
                .p2align 3
                __x86_rep_movsb_threshold: .quad 2048
                __x86_rep_stosb_threshold: .quad 2048
                __x86_shared_non_temporal_threshold: .quad 0xc0000
                __x86_rep_movsb_stop_threshold: .quad 0xc0000
                """);
        // Text with zero bytes now and then; the second half is a copy of the first with a few changes.
        for (int i = 0; i < HALF; i++) {
            data[i] = (byte) (random.nextInt(30) == 0 ? 0 : 'a' + random.nextInt(random.nextBoolean() ? 4 : 26));
        }
        data[HALF - 1] = 0;
        System.arraycopy(data, 0, data, HALF, HALF);
        for (int i = 0; i < 200; i++) {
            data[HALF + random.nextInt(HALF - 1)] = (byte) random.nextInt(256);
        }
        data[2 * HALF - 1] = 0;
        rig.data(DATA, data);
        return rig;
    }

    private static void run(Path dir, String... command) throws IOException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            p.getInputStream().readAllBytes();
            p.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** A string start: anywhere in the first half, often just before a page boundary, at every alignment. */
    private int start() {
        if (random.nextBoolean()) {
            return random.nextInt(HALF - 0x200);
        }
        int page = 1 + random.nextInt(HALF / 0x1000 - 1);
        return page * 0x1000 - 1 - random.nextInt(80);
    }

    private int strlen(int offset) {
        int n = 0;
        while (data[offset + n] != 0) {
            n++;
        }
        return n;
    }

    private record Call(String function, long rdi, long rsi, long rdx) {}

    private final List<Call> calls = new ArrayList<>();

    /** A test calling {@code function} with arguments from {@code args} (made as the records are laid out). */
    private void add(FpDifferentialRig rig, String function, boolean destination, java.util.function.Supplier<long[]> args) {
        String setup = (destination ? "lea 0x80(%r14), %rdi; add 0x38(%r13), %rdi" : "mov 0x38(%r13), %rdi")
                + "; mov 0x48(%r13), %rsi; mov 0x20(%r13), %rdx; pxor %xmm0, %xmm0; pxor %xmm1, %xmm1";
        rig.add(function, setup, "call " + function, FpDifferentialRig.SSE_CAPTURE, RECORDS, (r, b) -> {
            long[] a = args.get();
            calls.add(new Call(function, a[0], a[1], a[2]));
            b.putLong(RAX, a[0]).putLong(RDX, a[1]).putLong(MEM, a[2]);
        }).ignore(FpDifferentialRig.RFLAGS, FpDifferentialRig.RFLAGS + 8); // left undefined (BSF) by the functions
    }

    private FpDifferentialRig build(String name) throws IOException {
        FpDifferentialRig rig = rig(name);
        add(rig, "__strlen_sse2", false, () -> new long[] {DATA + start(), 0, 0});
        add(rig, "__strnlen_sse2", false, () -> new long[] {DATA + start(), random.nextInt(300), 0});
        add(rig, "__memchr_sse2", false, () -> {
            int p = start();
            int n = random.nextInt(300);
            int c = random.nextBoolean() ? data[p + random.nextInt(n + 10)] & 0xff : random.nextInt(256);
            return new long[] {DATA + p, c, n};
        });
        add(rig, "__strchr_sse2", false, () -> {
            int p = start();
            int c = random.nextInt(4) == 0 ? 0 : random.nextBoolean() ? data[p + random.nextInt(strlen(p) + 1)] & 0xff : 'a' + random.nextInt(26);
            return new long[] {DATA + p, c, 0};
        });
        add(rig, "__strrchr_sse2", false, () -> {
            int p = start();
            return new long[] {DATA + p, random.nextInt(5) == 0 ? 0 : 'a' + random.nextInt(26), 0};
        });
        add(rig, "__strcmp_sse2", false, () -> {
            int p = start();
            int q = HALF + p + (random.nextInt(5) == 0 ? random.nextInt(3) - 1 : 0);
            return new long[] {DATA + p, DATA + q, 0};
        });
        add(rig, "__memcmp_sse2", false, () -> {
            int p = start();
            return new long[] {DATA + p, DATA + HALF + p, random.nextInt(400)};
        });
        add(rig, "__memcpy_sse2_unaligned", true, () -> new long[] {random.nextInt(16), DATA + start(), random.nextInt(101)});
        add(rig, "__memset_sse2_unaligned", true, () -> new long[] {random.nextInt(16), random.nextInt(256), random.nextInt(101)});
        add(rig, "__strcpy_sse2", true, () -> {
            int p;
            do {
                p = start();
            } while (strlen(p) > 100);
            return new long[] {random.nextInt(16), DATA + p, 0};
        });
        return rig;
    }

    @Test
    void glibcSse2StringFunctionsGiveTheRightAnswersOnTheInterpreter() throws Exception {
        FpDifferentialRig rig = build("glibc-strings");
        rig.runInterpreterOnly();
        int index = 0;
        for (FpDifferentialRig.Test t : rig.tests()) {
            for (int r = 0; r < t.records; r++) {
                Call c = calls.get(index++);
                ByteBuffer out = rig.output(t, r);
                long rax = out.getLong(RAX);
                String where = c + " (record " + r + ")";
                int p = (int) (c.rdi - DATA);
                switch (c.function) {
                    case "__strlen_sse2" -> assertEquals(strlen(p), rax, where);
                    case "__strnlen_sse2" -> assertEquals(Math.min(strlen(p), c.rsi), rax, where);
                    case "__memchr_sse2" -> {
                        long expected = 0;
                        for (int i = 0; i < c.rdx; i++) {
                            if ((data[p + i] & 0xff) == c.rsi) {
                                expected = c.rdi + i;
                                break;
                            }
                        }
                        assertEquals(expected, rax, where);
                    }
                    case "__strchr_sse2", "__strrchr_sse2" -> {
                        long expected = 0;
                        for (int i = 0; i <= strlen(p); i++) {
                            if ((data[p + i] & 0xff) == c.rsi) {
                                expected = c.rdi + i;
                                if (c.function.equals("__strchr_sse2")) {
                                    break;
                                }
                            }
                        }
                        assertEquals(expected, rax, where);
                    }
                    case "__strcmp_sse2", "__memcmp_sse2" -> {
                        int q = (int) (c.rsi - DATA);
                        int expected = 0;
                        for (int i = 0; c.function.equals("__strcmp_sse2") || i < c.rdx; i++) {
                            int a = data[p + i] & 0xff;
                            int b = data[q + i] & 0xff;
                            if (a != b || (a == 0 && c.function.equals("__strcmp_sse2"))) {
                                expected = Integer.signum(a - b);
                                break;
                            }
                        }
                        assertEquals(expected, Integer.signum((int) rax), where);
                    }
                    default -> { // memcpy, memset, strcpy: the destination in the output record
                        int k = (int) c.rdi;
                        int n = c.function.equals("__strcpy_sse2") ? strlen((int) (c.rsi - DATA)) + 1 : (int) c.rdx;
                        for (int i = 0; i < 128; i++) {
                            int expected = i < k || i >= k + n ? 0
                                    : c.function.equals("__memset_sse2_unaligned") ? (byte) c.rsi : data[(int) (c.rsi - DATA) + i - k];
                            assertEquals((byte) expected, out.get(DEST + i), where + " byte " + i);
                        }
                    }
                }
            }
        }
        assertTrue(index > 0);
    }

    @Test
    void glibcSse2StringFunctionsAgreeWithTheHostCpu() throws Exception {
        build("glibc-strings-host").assertAgree();
    }
}
