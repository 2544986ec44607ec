package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.TinyKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of bad request gets its status and a fault_message that says what is wrong, and changes nothing. */
class MalformedRequestsTest {
    @TempDir
    Path dir;
    private ApiHarness api;
    private Path kernel;

    @BeforeEach
    void start() throws Exception {
        api = new ApiHarness(dir);
        kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
    }

    @AfterEach
    void stop() throws Exception {
        api.instance.stop("test over");
        api.close();
    }

    private void assertFault(ApiHarness.Answer answer, int status, String fragment) throws Exception {
        assertEquals(status, answer.status(), answer.toString());
        String fault = answer.fault();
        assertTrue(fault != null && fault.contains(fragment), "fault_message '" + fault + "' lacks '" + fragment + "'");
        assertEquals(1, fault.lines().count(), fault);
    }

    @Test
    void badJsonIsA400() throws Exception {
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": "), 400, "malformed JSON");
        assertFault(api.put("/boot-source", "not json"), 400, "malformed JSON");
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"} {}"), 400, "deserializing");
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": \"a\", \"kernel_image_path\": \"b\"}"), 400, "Duplicate field");
    }

    @Test
    void unknownFieldsAreRefusedByName() throws Exception {
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", \"kernel_path\": \"x\"}"),
                400, "unknown field `kernel_path`");
        assertFault(api.put("/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"" + kernel + "\", \"is_root_device\": false,"
                + " \"rate_limiter\": {}}"), 400, "unknown field `rate_limiter`");
    }

    @Test
    void wrongTypesAreRefused() throws Exception {
        assertFault(api.put("/machine-config", "{\"vcpu_count\": \"1\", \"mem_size_mib\": 64}"), 400, "`vcpu_count`");
        assertFault(api.put("/machine-config", "{\"vcpu_count\": 1.5, \"mem_size_mib\": 64}"), 400, "`vcpu_count`");
        assertFault(api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 1e30}"), 400, "mem_size_mib");
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": 5}"), 400, "`kernel_image_path`");
        assertFault(api.put("/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"" + kernel + "\", \"is_root_device\": \"yes\"}"),
                400, "`is_root_device`");
        assertFault(api.put("/actions", "{\"action_type\": \"Reboot\"}"), 400, "InstanceStart");
        assertFault(api.put("/actions", "[]"), 400, "deserializing");
    }

    @Test
    void missingFieldsAreNamed() throws Exception {
        assertFault(api.put("/boot-source", "{}"), 400, "missing field `kernel_image_path`");
        assertFault(api.put("/machine-config", "{\"vcpu_count\": 1}"), 400, "missing field `mem_size_mib`");
        assertFault(api.put("/drives/d", "{\"drive_id\": \"d\", \"is_root_device\": false}"), 400, "missing field `path_on_host`");
        assertFault(api.put("/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}"), 400, "host_dev_name");
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"s\"}"), 400, "either `mem_backend` or `mem_file_path`");
        assertFault(api.put("/actions", ""), 400, "no body");
    }

    @Test
    void idsMustAgreeAndBeWellFormed() throws Exception {
        assertFault(api.put("/drives/a", "{\"drive_id\": \"b\", \"path_on_host\": \"" + kernel + "\", \"is_root_device\": false}"),
                400, "does not match the id from the body");
        assertFault(api.put("/drives/a-b", "{\"drive_id\": \"a-b\", \"path_on_host\": \"" + kernel + "\", \"is_root_device\": false}"),
                400, "alphanumeric");
        assertFault(api.put("/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"" + dir.resolve("absent") + "\","
                + " \"is_root_device\": false}"), 400, "does not exist");
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": \"" + dir + "\"}"), 400, "not a regular file");
        assertFault(api.put("/network-interfaces/n", "{\"iface_id\": \"n\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"zz\"}"),
                400, "zz");
    }

    @Test
    void aSecondRootDriveAndADuplicateMacAreRefused() throws Exception {
        String root = "\", \"is_root_device\": true}";
        assertEquals(204, api.put("/drives/r1", "{\"drive_id\": \"r1\", \"path_on_host\": \"" + kernel + root).status());
        assertFault(api.put("/drives/r2", "{\"drive_id\": \"r2\", \"path_on_host\": \"" + kernel + root), 400, "root block device");
        assertEquals(204, api.put("/network-interfaces/a", "{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:00:00:00:01\"}").status());
        assertFault(api.put("/network-interfaces/b", "{\"iface_id\": \"b\", \"host_dev_name\": \"tap1\", \"guest_mac\": \"06:00:00:00:00:01\"}"),
                400, "already in use");
    }

    @Test
    void aBodyOver64KiBIs413() throws Exception {
        String huge = "{\"kernel_image_path\": \"" + "x".repeat(70 * 1024) + "\"}";
        assertFault(api.put("/boot-source", huge), 413, "64 KiB");
        assertEquals(200, api.get("/").status());
    }

    @Test
    void unknownPathsAre404AndWrongMethods405() throws Exception {
        assertFault(api.get("/nowhere"), 404, "Invalid request method and/or path: GET /nowhere.");
        assertFault(api.put("/balloon", "{}"), 404, "/balloon");
        assertFault(api.call("DELETE", "/drives/a", null), 405, "Invalid request method and/or path");
        assertFault(api.put("/", "{}"), 405, "PUT /");
        assertFault(api.get("/drives/a"), 405, "GET /drives/a");
    }

    @Test
    void aGetWithABodyIsRefused() throws Exception {
        assertFault(api.call("GET", "/machine-config", "{}"), 400, "GET request cannot have a body.");
    }

    @Test
    void vcpuCountAndMemoryAreBounded() throws Exception {
        assertFault(api.put("/machine-config", "{\"vcpu_count\": 65, \"mem_size_mib\": 64}"), 400,
                "vcpu_count must be between 1 and 64, not 65");
        assertFault(api.patch("/machine-config", "{\"vcpu_count\": 0}"), 400, "vcpu_count must be between 1 and 64");
        assertFault(api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 0}"), 400, "mem_size_mib");
        assertFault(api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"2M\"}"), 400, "huge_pages");
        assertEquals(1, api.get("/machine-config").json().get("vcpu_count").asInt());
    }

    @Test
    void requestsInTheWrongStateSayWhy() throws Exception {
        assertFault(api.put("/actions", "{\"action_type\": \"InstanceStart\"}"), 400, "without kernel configuration");
        assertFault(api.patch("/vm", "{\"state\": \"Paused\"}"), 400, "before starting the microVM");
        assertFault(api.put("/snapshot/create", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"), 400,
                "before starting the microVM");
        assertFault(api.put("/actions", "{\"action_type\": \"FlushMetrics\"}"), 400, "metrics system is not initialized");

        api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"s\", \"mem_backend\": {\"backend_type\": \"File\","
                + " \"backend_path\": \"m\"}}"), 400, "after configuring boot-specific resources");
        assertEquals(204, api.put("/actions", "{\"action_type\": \"InstanceStart\"}").status());
        api.awaitState("Running", Duration.ofSeconds(5));

        assertFault(api.put("/drives/late", "{\"drive_id\": \"late\", \"path_on_host\": \"" + kernel + "\", \"is_root_device\": false}"),
                400, "not supported after starting the microVM");
        assertFault(api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}"), 400, "after starting");
        assertFault(api.put("/actions", "{\"action_type\": \"InstanceStart\"}"), 400, "after starting");
        assertFault(api.put("/snapshot/create", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"), 400,
                "needs a paused VM");
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"), 400, "after starting");
        assertEquals("Running", api.get("/").json().get("state").asText());
    }

    @Test
    void diffSnapshotsAreNotSupported() throws Exception {
        api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}");
        api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
        api.put("/actions", "{\"action_type\": \"InstanceStart\"}");
        assertFault(api.put("/snapshot/create", "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
                400, "snapshot_type Diff is not supported");
        assertFault(api.put("/snapshot/create", "{\"snapshot_type\": \"Half\", \"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}"),
                400, "snapshot_type");
    }

    @Test
    void snapshotLoadRefusesWhatVmguardCannotDo() throws Exception {
        String memory = "\"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"/tmp/uffd.sock\"}";
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"s\", " + memory + "}"), 400, "File backend only");
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\", \"track_dirty_pages\": true}"),
                400, "dirty page tracking");
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"s\", \"mem_file_path\": \"m\","
                + " \"network_overrides\": [{\"iface_id\": \"net1\", \"host_dev_name\": \"tap1\"}]}"), 400, "eth0");
        assertFault(api.put("/snapshot/load", "{\"snapshot_path\": \"" + dir.resolve("absent") + "\", \"mem_file_path\": \"m\"}"),
                400, "Loading a microVM snapshot failed");
        assertEquals("Not started", api.get("/").json().get("state").asText());
    }

    @Test
    void aRefusedRequestChangesNothing() throws Exception {
        api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}");
        api.put("/machine-config", "{\"vcpu_count\": 65, \"mem_size_mib\": 128}");
        assertEquals(64, api.get("/machine-config").json().get("mem_size_mib").asInt());
        assertTrue(Files.exists(api.socket));
    }
}
