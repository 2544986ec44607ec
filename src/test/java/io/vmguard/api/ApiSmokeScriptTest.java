package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.BuiltGuest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * The API as an orchestrator speaks it, from outside the JVM: scripts/api-smoke drives {@code vmguard serve}
 * and {@code vmguard run --api-sock} with curl (Firecracker's start-up sequence boots the guest image and its
 * script runs; bad requests get their status and fault_message; the event stream carries the lifecycle).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class ApiSmokeScriptTest {
    @Test
    void curlDrivesTheFirecrackerStartUpSequenceAndEveryCheckPasses() throws Exception {
        Path guest = BuiltGuest.directory();
        String home = System.getenv().getOrDefault("VMGUARD_HOME", System.getProperty("user.dir"));
        ProcessBuilder builder = new ProcessBuilder("bash", Path.of(home, "scripts", "api-smoke").toString())
                .redirectErrorStream(true);
        builder.environment().put("VMGUARD_GUEST_DIR", guest.toString());
        // The CLI from this build's class path: the launcher would run Maven under the running build.
        builder.environment().put("VMGUARD_CMD", String.join(" ", ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), "io.vmguard.cli.Main"));
        Process script = builder.start();
        String output = new String(script.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, script.waitFor(), output);
        assertTrue(output.contains(" passed, 0 failed"), output);
    }
}
