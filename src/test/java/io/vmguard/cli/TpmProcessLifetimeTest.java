package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.TinyKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * swtpm never outlives its vmguard: a `vmguard run --tpm` killed with SIGKILL (no shutdown hook, no close)
 * leaves no swtpm behind, because swtpm runs with --terminate and the kernel closes its data connection.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class TpmProcessLifetimeTest {
    @TempDir
    Path dir;

    @Test
    void killingVmguardEndsItsSwtpm() throws Exception {
        Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "run", "--kernel", kernel.toString(), "--serial", "null", "--tpm", dir.resolve("tpm").toString()));
        Process vmguard = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("out").toFile()).start();
        try {
            ProcessHandle swtpm = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (swtpm == null && System.nanoTime() < deadline) {
                Optional<ProcessHandle> found = vmguard.descendants()
                        .filter(p -> p.info().command().map(c -> c.endsWith("/swtpm")).orElse(false)).findFirst();
                if (found.isPresent() && Files.exists(dir.resolve("tpm/tpm2-00.permall"))) {
                    swtpm = found.get();
                }
                assertTrue(vmguard.isAlive(), "vmguard ended: " + Files.readString(dir.resolve("out")));
                Thread.sleep(100);
            }
            assertTrue(swtpm != null, "no swtpm started: " + Files.readString(dir.resolve("out")));
            Thread.sleep(1000); // the VM is built and runs: swtpm has its data connection
            // Its socket directory (from "--ctrl type=unixio,path=DIR/ctrl"): a killed vmguard cannot remove it; this test does.
            Optional<Path> sockets = swtpm.info().arguments().flatMap(arguments -> java.util.Arrays.stream(arguments)
                    .filter(a -> a.startsWith("type=unixio,path=") && a.endsWith("/ctrl")).findFirst())
                    .map(a -> Path.of(a.substring("type=unixio,path=".length())).getParent());
            vmguard.destroyForcibly().waitFor();
            swtpm.onExit().get(10, TimeUnit.SECONDS);
            assertEquals(false, swtpm.isAlive());
            if (sockets.isPresent() && sockets.get().getFileName().toString().startsWith("vmguard-swtpm-")) {
                try (var files = Files.list(sockets.get())) {
                    for (Path file : files.toList()) {
                        Files.delete(file);
                    }
                }
                Files.delete(sockets.get());
            }
        } finally {
            vmguard.destroyForcibly().waitFor();
        }
    }
}
