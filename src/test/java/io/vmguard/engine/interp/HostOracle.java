package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.kvm.KvmEngine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.HostTool;
import io.vmguard.testing.PayloadAssembler;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The host CPU as the differential tests' oracle, with no KVM: src/test/c/host-oracle.c (built here with gcc,
 * cached under target/) runs a batch's ring-3 payload in its own process, mapped at the addresses it was
 * linked for, and turns each signal back into the exception the CPU raised (see the C file). KVM is a second
 * oracle where /dev/kvm opens ({@link #available()}). The helper needs a kernel that lets user mode write the FS
 * and GS bases (FSGSBASE, Linux 5.9 and later, on a CPU that has it): the integer batches run with GS based in the
 * upper half, which arch_prctl refuses. A host without it (a VM whose CPU hides FSGSBASE) has no host oracle: the
 * differential tests then still hold the JIT to the interpreter, and skip the comparison with a CPU. {@code -Dvmguard.hostOracle.keep=true}
 * keeps each batch's memory image before ({@code .in}) and after the run in target/difftest, and prints the
 * helper's command line, to rerun a batch by hand.
 */
final class HostOracle {
    private HostOracle() {}

    /** A reference CPU for the differential tests. */
    enum Oracle {
        /** KVM's guest ring 3, natively on the host CPU. */
        KVM("kvm"),
        /** This process's host CPU in ring 3, through host-oracle.c. */
        HOST("host");

        final String label;

        Oracle(String label) {
            this.label = label;
        }
    }

    /**
     * The oracles of this run: the host process on x86-64 Linux where the kernel lets user mode write the FS and GS
     * bases, and KVM where /dev/kvm opens. {@code -Dvmguard.oracle=host} or {@code =kvm} keeps only that one (host:
     * the path of a machine without /dev/kvm); the default, {@code both}, takes every one available. Skips the test
     * when there is none: a caller that also checks the JIT against the interpreter takes {@link #usable()} instead,
     * so that its check still runs on such a host.
     */
    static List<Oracle> available() {
        List<Oracle> oracles = usable();
        assumeTrue(!oracles.isEmpty(), NO_ORACLE);
        return oracles;
    }

    /** Why a test with no oracle is skipped. */
    static final String NO_ORACLE = "no oracle on this host: /dev/kvm does not open, and the host CPU can be one only on x86-64"
            + " Linux whose kernel lets user mode write the FS and GS bases (FSGSBASE, HWCAP2 bit 1), or -Dvmguard.oracle"
            + " chose the other";

    /** As {@link #available()}, but an empty list where there is no oracle, rather than a skipped test. */
    static List<Oracle> usable() {
        List<Oracle> oracles = new ArrayList<>();
        if (!chosen().equals("host") && kvmOpens()) {
            oracles.add(Oracle.KVM);
        }
        if (hostProcessChosen() && userModeWritesSegmentBases()) {
            oracles.add(Oracle.HOST);
        }
        return oracles;
    }

    /**
     * Whether a host process may be an oracle in this run: {@code -Dvmguard.oracle} does not keep KVM alone, and the
     * host is x86-64 Linux. What else the helper needs of the kernel is the helper's own check (64-bit: FSGSBASE,
     * {@link HostOracle32}: IA32 emulation).
     */
    static boolean hostProcessChosen() {
        return !chosen().equals("kvm") && System.getProperty("os.arch").matches("amd64|x86_64")
                && System.getProperty("os.name").equals("Linux");
    }

    /** {@code -Dvmguard.oracle}: host, kvm or both (the default). */
    private static String chosen() {
        String chosen = System.getProperty("vmguard.oracle", "both");
        if (!List.of("both", "host", "kvm").contains(chosen)) {
            throw new IllegalArgumentException("-Dvmguard.oracle=" + chosen + ": host, kvm or both");
        }
        return chosen;
    }

    /**
     * Whether this kernel lets user mode run WRFSBASE and WRGSBASE (HWCAP2_FSGSBASE in the auxiliary vector), which
     * host-oracle.c needs; a VM whose CPU hides FSGSBASE (some hypervisors' guests) has no host oracle.
     */
    private static boolean userModeWritesSegmentBases() {
        final long atHwcap2 = 26, hwcap2FsGsBase = 1 << 1;
        try {
            ByteBuffer auxv = ByteBuffer.wrap(Files.readAllBytes(Path.of("/proc/self/auxv"))).order(ByteOrder.LITTLE_ENDIAN);
            while (auxv.remaining() >= 16) {
                long type = auxv.getLong();
                long value = auxv.getLong();
                if (type == atHwcap2) {
                    return (value & hwcap2FsGsBase) != 0;
                }
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean kvmOpens() {
        if (!Files.exists(KvmEngine.DEFAULT_DEVICE)) {
            return false;
        }
        try {
            Libc.close(Libc.open(KvmEngine.DEFAULT_DEVICE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC));
            return true;
        } catch (NativeException e) {
            return false;
        }
    }

    /** How a batch ended: at its exit, or (only where there is no fault cell) at a fault, with the CPU's report. */
    record End(boolean exited, long vector, long rip, long error, long cr2, long r15) {}

    /**
     * Runs the payload already in {@code memory} on the host CPU: guest memory [{@code from}, {@code to}) is
     * mapped at the same addresses, run from {@code entry} with RSP {@code stack}, until the instruction at
     * {@code exit}, and copied back into {@code memory}. With {@code faultCell} non-zero an exception is recorded
     * in the fault record the cell points at and the run resumes at the address in {@code resumeCell}; with 0 it
     * ends the run.
     */
    static End run(GuestMemory memory, String name, long from, long to, long entry, long exit, long stack, long fsBase,
            long gsBase, long faultCell, long resumeCell) {
        Path helper = helper();
        Path image;
        try {
            image = Files.createTempFile(workDirectory(), name + ".", ".host-image"); // unique: tests may run in parallel
        } catch (IOException e) {
            throw new IllegalStateException("host oracle: " + e.getMessage(), e);
        }
        try {
            Files.write(image, memory.readBytes(from, Math.toIntExact(to - from)));
            List<String> command = new ArrayList<>(List.of(helper.toString(), image.toString()));
            for (long value : new long[] {from, entry, exit, stack, fsBase, gsBase, faultCell, resumeCell}) {
                command.add(Long.toHexString(value));
            }
            if (Boolean.getBoolean("vmguard.hostOracle.keep")) {
                Files.copy(image, image.resolveSibling(image.getFileName() + ".in"), StandardCopyOption.REPLACE_EXISTING);
                System.out.println("host oracle: " + String.join(" ", command));
            }
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!process.waitFor(90, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("host oracle: batch " + name + " did not end");
            }
            if (process.exitValue() != 0) {
                throw new AssertionError("host oracle: batch " + name + " failed (status " + process.exitValue() + "): " + output);
            }
            memory.write(from, Files.readAllBytes(image));
            if (output.equals("exit")) {
                return new End(true, -1, 0, 0, 0, 0);
            }
            String[] f = output.split(" ");
            if (f.length != 6 || !f[0].equals("fault")) {
                throw new AssertionError("host oracle: batch " + name + ": " + output);
            }
            return new End(false, Long.parseUnsignedLong(f[1], 16), Long.parseUnsignedLong(f[2], 16),
                    Long.parseUnsignedLong(f[3], 16), Long.parseUnsignedLong(f[4], 16), Long.parseUnsignedLong(f[5], 16));
        } catch (IOException e) {
            throw new IllegalStateException("host oracle: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            try {
                if (!Boolean.getBoolean("vmguard.hostOracle.keep")) {
                    Files.deleteIfExists(image);
                }
            } catch (IOException ignored) {
                // a stale image in target/ is harmless
            }
        }
    }

    private static Path workDirectory() {
        return Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "difftest");
    }

    private static Path built;

    /** target/difftest/host-oracle, rebuilt when the C source is newer; gcc is required (see HostTool). */
    private static synchronized Path helper() {
        if (built != null) {
            return built;
        }
        Path source = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "src", "test", "c", "host-oracle.c");
        Path binary = workDirectory().resolve("host-oracle");
        try {
            if (!Files.exists(binary) || Files.getLastModifiedTime(binary).compareTo(Files.getLastModifiedTime(source)) < 0) {
                Path gcc = HostTool.require("gcc", "Debian: apt-get install gcc (the differential tests' host oracle)");
                Files.createDirectories(workDirectory());
                Path temporary = workDirectory().resolve("host-oracle.tmp");
                PayloadAssembler.run(gcc.toString(), "-O2", "-Wall", "-Wextra", "-Werror", "-fno-stack-protector", "-mfsgsbase",
                        "-o", temporary.toString(), source.toString());
                Files.move(temporary, binary, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot build the host oracle: " + e.getMessage(), e);
        }
        built = binary;
        return binary;
    }
}
