package io.vmguard.engine.interp;

import io.vmguard.testing.HostTool;
import io.vmguard.testing.PayloadAssembler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The host CPU as the oracle for 32-bit code, with no KVM: src/test/c/host-oracle32.c, built here with
 * gcc -m32 (Debian: gcc-multilib, in scripts/install-deps), runs a block of 32-bit code in a 32-bit process
 * and hands back its result slots and data area (see the C file for the layout it maps).
 */
final class HostOracle32 {
    private HostOracle32() {}

    private static Path built;

    /** Runs {@code code} with {@code data} (512 bytes) in its data area; returns the result slots, then the data. */
    static byte[] run(byte[] code, byte[] data) throws IOException {
        Path helper = helper();
        Path dir = Files.createTempDirectory(helper.getParent(), "run");
        try {
            Path codeFile = Files.write(dir.resolve("code.bin"), code);
            Path dataFile = Files.write(dir.resolve("data.bin"), data);
            Path out = dir.resolve("out.bin");
            PayloadAssembler.run(helper.toString(), codeFile.toString(), dataFile.toString(), out.toString());
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
