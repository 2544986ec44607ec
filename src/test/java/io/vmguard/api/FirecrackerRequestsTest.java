package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vmguard.testing.TinyKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Firecracker's requests over a real Unix socket: what each answers when all is well, before and after boot. */
class FirecrackerRequestsTest {
    @TempDir
    Path dir;
    private ApiHarness api;
    private Path kernel;
    private Path disk;

    @BeforeEach
    void start() throws Exception {
        api = new ApiHarness(dir);
        kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.powerOff(7));
        disk = Files.write(dir.resolve("rootfs.img"), new byte[1 << 20]);
    }

    @AfterEach
    void stop() throws Exception {
        api.close();
    }

    @Test
    void describesTheInstanceBeforeBoot() throws Exception {
        ApiHarness.Answer info = api.get("/");
        assertEquals(200, info.status(), info.toString());
        JsonNode json = info.json();
        assertEquals("test-vm", json.get("id").asText());
        assertEquals("Not started", json.get("state").asText());
        assertEquals("vmguard", json.get("app_name").asText());
        assertEquals(Version.NUMBER, json.get("vmm_version").asText());
        assertEquals(Version.NUMBER, api.get("/version").json().get("firecracker_version").asText());
    }

    @Test
    void machineConfigHasDefaultsThenTakesPutAndPatch() throws Exception {
        JsonNode defaults = api.get("/machine-config").json();
        assertEquals(1, defaults.get("vcpu_count").asInt());
        assertEquals(PreBootConfig.DEFAULT_MEM_MIB, defaults.get("mem_size_mib").asLong());
        assertEquals(false, defaults.get("smt").asBoolean());

        assertEquals(204, api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"smt\": false,"
                + " \"track_dirty_pages\": true}").status());
        JsonNode put = api.get("/machine-config").json();
        assertEquals(64, put.get("mem_size_mib").asLong());
        assertEquals(true, put.get("track_dirty_pages").asBoolean());

        assertEquals(204, api.patch("/machine-config", "{\"mem_size_mib\": 96}").status());
        JsonNode patched = api.get("/machine-config").json();
        assertEquals(96, patched.get("mem_size_mib").asLong());
        assertEquals(true, patched.get("track_dirty_pages").asBoolean());
    }

    @Test
    void vmConfigShowsWhatThePreBootRequestsSetRootDriveFirst() throws Exception {
        Path data = Files.write(dir.resolve("data.img"), new byte[4096]);
        assertEquals(204, api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\", \"boot_args\": \"console=ttyS0\"}").status());
        assertEquals(204, api.put("/drives/data", "{\"drive_id\": \"data\", \"path_on_host\": \"" + data
                + "\", \"is_root_device\": false, \"is_read_only\": true}").status());
        assertEquals(204, api.put("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk
                + "\", \"is_root_device\": true, \"is_read_only\": false}").status());
        assertEquals(204, api.put("/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
                + " \"guest_mac\": \"06:00:ac:10:00:02\"}").status());
        assertEquals(204, api.put("/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"vmguard_socket\": {"
                + "\"local_path\": \"" + dir.resolve("a.sock") + "\", \"peer_path\": \"" + dir.resolve("b.sock") + "\"}}").status());

        JsonNode config = api.get("/vm/config").json();
        assertEquals(kernel.toString(), config.at("/boot-source/kernel_image_path").asText());
        assertEquals("console=ttyS0", config.at("/boot-source/boot_args").asText());
        assertEquals(1, config.at("/machine-config/vcpu_count").asInt());
        assertEquals(List.of("rootfs", "data"), config.get("drives").findValuesAsText("drive_id"));
        assertEquals(true, config.at("/drives/1/is_read_only").asBoolean());
        assertEquals("tap0", config.at("/network-interfaces/0/host_dev_name").asText());
        assertEquals("06:00:ac:10:00:02", config.at("/network-interfaces/0/guest_mac").asText());
        assertEquals(dir.resolve("b.sock").toString(), config.at("/network-interfaces/1/vmguard_socket/peer_path").asText());
    }

    @Test
    void aNetworkInterfaceMayAskForAnE1000CardAsAVmguardField() throws Exception {
        assertEquals(204, api.put("/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
                + " \"vmguard_model\": \"e1000\"}").status());
        assertEquals(204, api.put("/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}").status());
        JsonNode config = api.get("/vm/config").json();
        assertEquals("e1000", config.at("/network-interfaces/0/vmguard_model").asText());
        assertTrue(config.at("/network-interfaces/1/vmguard_model").isMissingNode() || config.at("/network-interfaces/1/vmguard_model").isNull(),
                "virtio-net, the default, needs no model");
        var refused = api.put("/network-interfaces/eth2", "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\","
                + " \"vmguard_model\": \"rtl8139\"}");
        assertEquals(400, refused.status());
        assertTrue(refused.body().contains("network card model must be virtio or e1000, not 'rtl8139'"), refused.body());
    }

    @Test
    void aDrivePutAgainIsReplacedWhereItStands() throws Exception {
        Path other = Files.write(dir.resolve("other.img"), new byte[4096]);
        api.put("/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"" + disk + "\", \"is_root_device\": false}");
        api.put("/drives/b", "{\"drive_id\": \"b\", \"path_on_host\": \"" + disk + "\", \"is_root_device\": false}");
        api.put("/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"" + other + "\", \"is_root_device\": false}");
        JsonNode drives = api.get("/vm/config").json().get("drives");
        assertEquals(List.of("a", "b"), drives.findValuesAsText("drive_id"));
        assertEquals(other.toString(), drives.get(0).get("path_on_host").asText());
    }

    @Test
    void loggerAndMetricsAreAcceptedAndFlushMetricsWritesOneLinePerFlush() throws Exception {
        Path log = dir.resolve("vmguard.log");
        Path metrics = dir.resolve("metrics.json");
        assertEquals(204, api.put("/logger", "{\"log_path\": \"" + log + "\", \"level\": \"Info\", \"show_level\": true}").status());
        assertEquals(204, api.put("/metrics", "{\"metrics_path\": \"" + metrics + "\", \"emit_id\": true,"
                + " \"properties\": {\"host\": \"h1\"}}").status());
        assertEquals(204, api.put("/actions", "{\"action_type\": \"FlushMetrics\"}").status());
        assertEquals(204, api.put("/actions", "{\"action_type\": \"FlushMetrics\"}").status());
        List<String> lines = Files.readAllLines(metrics);
        assertEquals(2, lines.size(), lines.toString());
        JsonNode line = Json.MAPPER.readTree(lines.getFirst());
        assertEquals("test-vm", line.get("id").asText());
        assertEquals("h1", line.at("/properties/host").asText());
        assertEquals("Not started", line.at("/vm/state").asText());
        assertTrue(line.at("/api/requests").asLong() >= 3, line.toString());
        assertTrue(line.has("utc_timestamp_ms"));
    }

    @Test
    void instanceStartBootsTheConfiguredKernelAndTheGuestPowersOff() throws Exception {
        assertEquals(204, api.put("/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}").status());
        assertEquals(204, api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}").status());
        assertEquals(204, api.put("/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"" + disk
                + "\", \"is_root_device\": true, \"is_read_only\": true}").status());
        assertEquals(204, api.put("/actions", "{\"action_type\": \"InstanceStart\"}").status());

        var vm = api.instance.booted().get(5, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(new io.vmguard.vmm.RunOutcome.PoweredOff(7), vm.awaitOutcome());
        assertEquals(32L << 20, vm.config().memoryBytes());
        assertTrue(vm.config().commandLine().endsWith(" root=/dev/vda ro"), vm.config().commandLine());
        assertEquals("rootfs", vm.config().disks().getFirst().serial());
        api.awaitState("Stopped", Duration.ofSeconds(5));
        List<String> kinds = api.recorded.events.stream().map(event -> event.kind()).toList();
        assertTrue(kinds.containsAll(List.of("api-started", "vm-started", "vm-powered-off")), kinds.toString());
    }

    @Test
    void metricsOfARunningVmCountItsWork() throws Exception {
        Path spinner = TinyKernel.write(dir, "spin", TinyKernel.spin());
        api.put("/boot-source", "{\"kernel_image_path\": \"" + spinner + "\"}");
        api.put("/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 32}");
        ApiHarness.Answer start = api.put("/actions", "{\"action_type\": \"InstanceStart\"}");
        assertEquals(204, start.status(), start.toString());
        api.awaitState("Running", Duration.ofSeconds(5));
        assertEquals("Running", api.get("/").json().get("state").asText());
        JsonNode metrics = api.get("/metrics").json();
        assertEquals("Running", metrics.at("/vm/state").asText());
        assertTrue(metrics.at("/api/requests").asLong() >= 4, metrics.toString());
        assertTrue(metrics.at("/api/responses/204").asLong() >= 3, metrics.toString());
        // The host's view of the VM's threads: the spinning vCPU has run (issue 17).
        assertTrue(metrics.at("/vm/host_threads/by_role/vcpu/run_ns").asLong() > 0, metrics.toString());
        assertTrue(metrics.at("/vm/host_threads/threads").findValuesAsText("name").contains("vcpu0"), metrics.toString());
        api.instance.stop("test over");
    }
}
