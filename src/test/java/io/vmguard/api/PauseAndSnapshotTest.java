package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.vmguard.testing.TinyKernel;
import io.vmguard.vmm.Vm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PATCH /vm, snapshot/create and snapshot/load on a running tiny kernel. The device side of pause and
 * snapshot lands separately; until it does the VMM answers 500 naming the missing part, and these tests
 * are skipped with that reason rather than passing vacuously.
 */
class PauseAndSnapshotTest {
    @TempDir
    Path dir;

    private static void assumeDeviceStateLanded(ApiHarness.Answer answer) throws Exception {
        assumeFalse(answer.status() == 500 && answer.fault().contains("UnsupportedOperationException"),
                "device pause/snapshot not merged yet: " + answer.fault());
    }

    private static ApiHarness.Answer startSpinning(ApiHarness api, Path dir) throws Exception {
        Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
        api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
        ApiHarness.Answer started = api.put("/actions", "{\"action_type\": \"InstanceStart\"}");
        api.awaitState("Running", Duration.ofSeconds(5));
        return started;
    }

    @Test
    void pausedTheGuestStopsAndResumedItGoesOn() throws Exception {
        try (ApiHarness api = new ApiHarness(dir)) {
            assertEquals(204, startSpinning(api, dir).status());
            Vm vm = api.instance.vm().orElseThrow();
            ApiHarness.Answer paused = api.patch("/vm", "{\"state\": \"Paused\"}");
            assumeDeviceStateLanded(paused);
            assertEquals(204, paused.status(), paused.toString());
            assertEquals("Paused", api.get("/").json().get("state").asText());
            long at = vm.instructionsExecuted().orElseThrow();
            Thread.sleep(200);
            assertEquals(at, vm.instructionsExecuted().orElseThrow(), "a paused vCPU executes nothing");
            assertEquals(204, api.patch("/vm", "{\"state\": \"Paused\"}").status(), "pausing twice is no error");

            assertEquals(204, api.patch("/vm", "{\"state\": \"Resumed\"}").status());
            assertEquals("Running", api.get("/").json().get("state").asText());
            Thread.sleep(100);
            assertTrue(vm.instructionsExecuted().orElseThrow() > at);
            List<String> kinds = api.recorded.events.stream().map(event -> event.kind()).toList();
            assertTrue(kinds.containsAll(List.of("vm-paused", "vm-resumed")), kinds.toString());
            api.instance.stop("test over");
        }
    }

    @Test
    void aSnapshotOfThePausedVmLoadsIntoAFreshInstance() throws Exception {
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        try (ApiHarness api = new ApiHarness(dir)) {
            startSpinning(api, dir);
            ApiHarness.Answer paused = api.patch("/vm", "{\"state\": \"Paused\"}");
            assumeDeviceStateLanded(paused);
            ApiHarness.Answer created = api.put("/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \""
                    + state + "\", \"mem_file_path\": \"" + memory + "\"}");
            assumeDeviceStateLanded(created);
            assertEquals(204, created.status(), created.toString());
            assertTrue(Files.size(state) > 0 && Files.exists(memory));
            api.instance.stop("test over");
        }
        Path second = dir.resolve("second");
        Files.createDirectories(second);
        try (ApiHarness clone = new ApiHarness(second)) {
            ApiHarness.Answer loaded = clone.put("/snapshot/load", "{\"snapshot_path\": \"" + state
                    + "\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"" + memory + "\"}}");
            assumeDeviceStateLanded(loaded);
            assertEquals(204, loaded.status(), loaded.toString());
            assertEquals("Paused", clone.get("/").json().get("state").asText());
            assertEquals(32, clone.get("/vm/config").json().at("/machine-config/mem_size_mib").asInt());
            assertEquals(204, clone.patch("/vm", "{\"state\": \"Resumed\"}").status());
            assertEquals("Running", clone.get("/").json().get("state").asText());
            assertTrue(clone.recorded.events.stream().anyMatch(event -> event.kind().equals("snapshot-loaded")
                    && "mapped".equals(event.details().get("memory_restore"))), clone.recorded.events.toString());
            clone.instance.stop("test over");
        }
    }

    @Test
    void aSealedInstanceWritesSealedFilesThatLoadOnlyWhereTheOwnersTpmIs() throws Exception {
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        var sealed = new io.vmguard.vmm.GuestProtection(java.util.Optional.empty(), io.vmguard.memory.MemoryBackend.ANONYMOUS,
                java.util.Optional.of(new io.vmguard.seal.SealingTpm(dir.resolve("owner-tpm"), new byte[0])));
        try (ApiHarness api = new ApiHarness(dir, sealed)) {
            startSpinning(api, dir);
            assertEquals(204, api.patch("/vm", "{\"state\": \"Paused\"}").status());
            ApiHarness.Answer created = api.put("/snapshot/create", "{\"snapshot_type\": \"Full\", \"snapshot_path\": \""
                    + state + "\", \"mem_file_path\": \"" + memory + "\"}");
            assertEquals(204, created.status(), created.toString());
            assertTrue(io.vmguard.seal.SealedState.isSealed(Files.readAllBytes(state)), "the state file is sealed");
            assertTrue(io.vmguard.seal.SealedMemoryImage.isSealed(memory), "the memory file is sealed");
            assertPhases(api, "snapshot-created", "tpm.start", "tpm.storage_key", "tpm.session", "tpm.create", "save.key_seal",
                    "save.encrypt", "save.write", "save.fsync", "save.state_file_and_renames");
            api.instance.stop("test over");
        }
        String load = "{\"snapshot_path\": \"" + state + "\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \""
                + memory + "\"}}";
        Path plain = Files.createDirectories(dir.resolve("plain"));
        try (ApiHarness clone = new ApiHarness(plain)) {
            ApiHarness.Answer refused = clone.put("/snapshot/load", load);
            assertEquals(400, refused.status(), refused.toString());
            assertTrue(refused.fault().contains("is sealed") && refused.fault().lines().count() == 1, refused.fault());
        }
        Path owner = Files.createDirectories(dir.resolve("owner"));
        try (ApiHarness clone = new ApiHarness(owner, sealed)) {
            ApiHarness.Answer loaded = clone.put("/snapshot/load", load);
            assertEquals(204, loaded.status(), loaded.toString());
            assertPhases(clone, "snapshot-loaded", "tpm.start", "tpm.load", "tpm.unseal", "restore.key_unseal", "restore.state_file",
                    "restore.authenticate_table", "restore.memory", "restore.devices_and_guest_tpm", "restore.total_to_running");
            assertTrue(clone.recorded.events.stream().anyMatch(event -> event.kind().equals("snapshot-loaded")
                    && "up-front".equals(event.details().get("memory_restore"))), "a sparse sealed image is decrypted up front: "
                    + clone.recorded.events);
            assertEquals(204, clone.patch("/vm", "{\"state\": \"Resumed\"}").status());
            assertEquals("Running", clone.get("/").json().get("state").asText());
            clone.instance.stop("test over");
        }
    }

    /** The event {@code kind} says where its time went: each of {@code phases}, in seconds. */
    private static void assertPhases(ApiHarness api, String kind, String... phases) {
        var event = api.recorded.events.stream().filter(e -> e.kind().equals(kind)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " event"));
        if (!(event.details().get("phases") instanceof java.util.Map<?, ?> recorded)) {
            throw new AssertionError(kind + " has no phases: " + event.details());
        }
        for (String phase : phases) {
            assertTrue(recorded.get(phase) instanceof Double seconds && seconds >= 0, kind + " lacks phase " + phase + ": " + recorded);
        }
    }
}
