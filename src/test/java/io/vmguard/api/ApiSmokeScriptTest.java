package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.ProjectScript;
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
        ProjectScript.Result smoke = ProjectScript.run("api-smoke");
        assertEquals(0, smoke.status(), smoke.output());
        assertTrue(smoke.output().contains(" passed, 0 failed"), smoke.output());
    }
}
