package io.vmguard.engine.interp;

import io.vmguard.testing.HostTool;
import io.vmguard.testing.PayloadAssembler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The host CPU as the oracle for 32-bit and 16-bit code, with no KVM: src/test/c/host-oracle32.c, built here
 * with gcc -m32 (Debian: gcc-multilib, in scripts/install-deps), runs a block of code in a 32-bit process and
 * hands back its result slots and data area (see the C file for the layout it maps). 16-bit code runs in a
 * 16-bit code segment and a data segment the helper puts in its LDT (modify_ldt), as Wine and dosemu do.
 * An exception the code raises comes back as the {@link AssertionError} naming its vector.
 */
final class HostOracle32 {
    private HostOracle32() {}

    private static Path built;
    private static Boolean runsHere;

    /** The segments the code runs in. */
    enum Segments {
        /** 32-bit code, Linux's flat segments. */
        FLAT_32(),
        /** 16-bit code; DS, ES and SS a data segment with B set (32-bit stack addresses), as compatibility mode's flat data. */
        CODE16_STACK32("16", "32"),
        /** 16-bit code; DS, ES and SS a data segment with B clear (16-bit stack addresses), as in real mode. */
        CODE16_STACK16("16", "16");

        private final List<String> arguments;

        Segments(String... arguments) {
            this.arguments = List.of(arguments);
        }
    }

    /**
     * Runs {@code code} (32-bit, flat) with {@code data} (512 bytes) in its data area; returns the result slots,
     * then the data.
     */
    static byte[] run(byte[] code, byte[] data) throws IOException {
        return run(code, data, Segments.FLAT_32);
    }

    /** Runs {@code code} in {@code segments} with {@code data} (512 bytes) in its data area; returns the result slots, then the data. */
    static byte[] run(byte[] code, byte[] data, Segments segments) throws IOException {
        Path helper = helper();
        Path dir = Files.createTempDirectory(helper.getParent(), "run");
        try {
            Path codeFile = Files.write(dir.resolve("code.bin"), code);
            Path dataFile = Files.write(dir.resolve("data.bin"), data);
            Path out = dir.resolve("out.bin");
            List<String> command = new ArrayList<>(List.of(helper.toString(), codeFile.toString(), dataFile.toString(), out.toString()));
            command.addAll(segments.arguments);
            String report = PayloadAssembler.run(command.toArray(String[]::new)).strip();
            if (report.startsWith("fault ")) {
                throw fault(report, code);
            }
            if (!report.equals("exit")) {
                throw new IOException("host-oracle32: unexpected report: " + report);
            }
            return Files.readAllBytes(out);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    /** "fault VECTOR OFFSET ERROR CR2" (hexadecimal but the vector) as the exception it is. */
    private static AssertionError fault(String report, byte[] code) {
        String[] f = report.split(" ");
        int vector = Integer.parseInt(f[1]);
        int offset = Integer.parseUnsignedInt(f[2], 16);
        String bytes = offset >= 0 && offset < code.length
                ? HexFormat.ofDelimiter(" ").formatHex(code, offset, Math.min(code.length, offset + 8)) : "outside the code";
        return new AssertionError("the host CPU: exception " + vector + " in the code at offset 0x" + f[2] + " (bytes " + bytes
                + ", error code 0x" + f[3] + ", CR2 0x" + f[4] + ")");
    }

    /**
     * Whether the 32-bit host oracle runs here: the host is chosen ({@code -Dvmguard.oracle}: not {@code kvm}) on
     * x86-64 Linux, and the kernel executes 32-bit programs (IA32 emulation: some kernels, as some VMs' guest kernels,
     * are built without it, and the helper then does not even start). Probed once, by running the helper bare: it
     * answers with its usage line. A helper that cannot be built is still an error, not a reason to skip.
     */
    static synchronized boolean available() throws IOException {
        if (runsHere == null) {
            runsHere = HostOracle.hostProcessChosen() && answersWithItsUsage(helper());
        }
        return runsHere;
    }

    /** Why a test of the 32-bit host oracle is skipped. */
    static final String UNAVAILABLE = "the 32-bit host oracle cannot run here: this kernel does not execute 32-bit programs"
            + " (no IA32 emulation), or -Dvmguard.oracle=kvm";

    private static boolean answersWithItsUsage(Path helper) throws IOException {
        Process bare = new ProcessBuilder(helper.toString()).redirectErrorStream(true).start();
        String answer = new String(bare.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        try {
            bare.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while probing the 32-bit host oracle", e);
        }
        return answer.startsWith("usage: host-oracle32");
    }

    /** target/difftest/host-oracle32, rebuilt when the C source is newer. */
    private static synchronized Path helper() throws IOException {
        if (built != null) {
            return built;
        }
        Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
        Path source = base.resolve("src/test/c/host-oracle32.c");
        Path directory = base.resolve("target/difftest");
        Path binary = directory.resolve("host-oracle32");
        if (!Files.exists(binary) || Files.getLastModifiedTime(binary).compareTo(Files.getLastModifiedTime(source)) < 0) {
            Path gcc = HostTool.require("gcc", "Debian: apt-get install gcc gcc-multilib (the 32-bit host oracle)");
            Files.createDirectories(directory);
            Path temporary = directory.resolve("host-oracle32.tmp");
            try {
                PayloadAssembler.run(gcc.toString(), "-m32", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", temporary.toString(),
                        source.toString());
            } catch (IOException e) {
                throw new IOException("cannot build the 32-bit host oracle (gcc -m32 needs Debian's gcc-multilib): " + e.getMessage(), e);
            }
            Files.move(temporary, binary, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        built = binary;
        return binary;
    }
}
