package io.vmguard.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.events.EventHub;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.testing.TinyKernel;
import io.vmguard.vmi.integrity.IntegrityMonitor;
import io.vmguard.vmm.IntrospectionSettings;
import io.vmguard.vmm.SerialTarget;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.io.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code /vmi/} requests on a VM that is not Linux (a spinning tiny kernel): memory reads are bounded
 * and logged, writes happen only when the VM was started allowing them, and what needs a Linux kernel or a
 * monitor says so in one line.
 */
class VmiApiTest {
    private static final long KERNEL_LOAD = 0x100_0000;

    @TempDir
    Path dir;

    private record Served(RecordingEventSink recorded, EventHub hub, Instance instance, ApiServer server, HttpClient client,
                          Path socket) implements AutoCloseable {
        static Served start(Path dir, IntrospectionSettings vmi) throws Exception {
            return start(dir, vmi, io.vmguard.vmm.GuestProtection.NONE);
        }

        static Served start(Path dir, IntrospectionSettings vmi, io.vmguard.vmm.GuestProtection protection) throws Exception {
            RecordingEventSink recorded = new RecordingEventSink();
            EventHub hub = new EventHub(recorded);
            VmEvents events = new VmEvents("vmi-api", hub);
            Instance instance = Instance.configurable(new Instance.Launch("vmi-api", "interp", new SerialTarget.Null(), events, vmi,
                    io.vmguard.vmm.AntivirusSettings.off(), protection));
            Path socket = dir.resolve("api.sock");
            ApiServer server = ApiServer.start(ApiEndpoints.unix(socket), new ApiContext(instance, hub, events));
            HttpClient client = new HttpClient();
            client.start();
            return new Served(recorded, hub, instance, server, client, socket);
        }

        ApiHarness.Answer call(String method, String path, String json) throws Exception {
            Request request = client.newRequest("http://localhost" + path).method(method)
                    .transport(new Transport.TCPUnix(socket)).timeout(20, TimeUnit.SECONDS);
            if (json != null) {
                request.body(new StringRequestContent("application/json", json));
            }
            var response = request.send();
            return new ApiHarness.Answer(response.getStatus(), response.getContentAsString());
        }

        void boot(Path dir) throws Exception {
            Path kernel = TinyKernel.write(dir, "vmlinux", TinyKernel.spin());
            assertEquals(204, call("PUT", "/boot-source", "{\"kernel_image_path\": \"" + kernel + "\"}").status());
            assertEquals(204, call("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}").status());
        }

        @Override
        public void close() throws Exception {
            client.stop();
            server.close();
            instance.close();
            hub.close();
        }
    }

    @Test
    void aSealedVmHandsOutNoMemoryInClearAndSaysSoWithAnEventAndDumpsOnlySealed() throws Exception {
        var owner = new io.vmguard.seal.SealingTpm(dir.resolve("owner-tpm"), new byte[0]);
        var protection = new io.vmguard.vmm.GuestProtection(java.util.Optional.empty(), io.vmguard.memory.MemoryBackend.ANONYMOUS,
                java.util.Optional.of(owner));
        try (Served served = Served.start(dir, IntrospectionSettings.defaults(), protection)) {
            served.boot(dir);
            for (String[] request : new String[][] {{"/vmi/memory/read", "{\"space\": \"physical\", \"address\": \"0x1000000\"}"},
                    {"/vmi/memory/write", "{\"space\": \"physical\", \"address\": \"0x1000000\", \"data\": \"00\"}"}}) {
                ApiHarness.Answer answer = served.call("PUT", request[0], request[1]);
                assertEquals(403, answer.status(), request[0] + ": " + answer.body());
                assertTrue(answer.fault().contains("--seal") && answer.fault().lines().count() == 1, answer.fault());
            }
            assertEquals(2, served.recorded().events.stream().filter(e -> e.kind().equals("sealed-access-refused")).count());
            java.nio.file.Path dump = dir.resolve("dump.elf");
            ApiHarness.Answer dumped = served.call("PUT", "/vmi/dump", "{\"path\": \"" + dump + "\"}");
            assertEquals(200, dumped.status(), dumped.body());
            assertTrue(dumped.body().contains("\"sealed\":true"), dumped.body());
            assertTrue(io.vmguard.seal.SealedDump.isSealed(dump), "the dump is not sealed");
            java.nio.file.Path opened = dir.resolve("opened.elf");
            io.vmguard.seal.SealedDump.unseal(dump, opened, owner);
            byte[] elf = java.nio.file.Files.readAllBytes(opened);
            assertTrue(elf.length > 4 && elf[0] == 0x7f && elf[1] == 'E' && elf[2] == 'L' && elf[3] == 'F', "the unsealed dump is no ELF file");
        }
        try (Served served = Served.start(java.nio.file.Files.createDirectories(dir.resolve("plain")), IntrospectionSettings.defaults())) {
            served.boot(dir);
            assertEquals(200, served.call("PUT", "/vmi/memory/read", "{\"space\": \"physical\", \"address\": \"0x1000000\"}").status(),
                    "without --seal the same read is answered");
        }
    }

    private static void assertOneLine(ApiHarness.Answer answer, String fragment) throws Exception {
        assertEquals(400, answer.status(), answer.body());
        String fault = answer.fault();
        assertTrue(fault.contains(fragment) && fault.lines().count() == 1, fault);
    }

    @Test
    void readsAreBoundedAndLoggedAndWritesAreRefusedUnlessAllowedAtStart() throws Exception {
        try (Served api = Served.start(dir, IntrospectionSettings.defaults())) {
            assertOneLine(api.call("GET", "/vmi/registers", null), "before starting");
            api.boot(dir);

            var read = api.call("PUT", "/vmi/memory/read", "{\"address\": \"0x1000000\", \"size\": 4}");
            assertEquals(200, read.status(), read.body());
            assertTrue(read.body().contains("\"data\":\"f39 0ebfc\"".replace(" ", "")), read.body()); // pause; jmp $-2
            assertTrue(api.recorded().events.stream().anyMatch(e -> e.kind().equals("memory-read")
                    && e.details().get("address").equals("0x1000000")));

            assertOneLine(api.call("PUT", "/vmi/memory/read", "{\"address\": \"0x1000000\", \"size\": 2000000}"), "1 to 1048576 bytes");
            assertOneLine(api.call("PUT", "/vmi/memory/read", "{\"address\": \"zz\"}"), "hexadecimal");
            assertOneLine(api.call("PUT", "/vmi/memory/read", "{\"address\": \"0xfffffffff000\", \"size\": 16}"), "not all RAM");
            assertOneLine(api.call("PUT", "/vmi/memory/write", "{\"address\": \"0x1000000\", \"data\": \"90\"}"),
                    "writes through introspection are off");
            assertOneLine(api.call("GET", "/vmi/check", null), "integrity monitor is off");
            assertOneLine(api.call("GET", "/vmi/processes", null), "");
            var registers = api.call("GET", "/vmi/registers", null);
            assertEquals(200, registers.status());
            assertTrue(registers.body().contains("\"rip\":\"0x100000"), registers.body());
        }
    }

    @Test
    void aVmStartedAllowingWritesTakesThemAndLogsEachAsAWarning() throws Exception {
        var allowing = new IntrospectionSettings(false, IntegrityMonitor.Settings.defaults(), true);
        try (Served api = Served.start(dir, allowing)) {
            api.boot(dir);
            assertEquals(204, api.call("PUT", "/vmi/memory/write", "{\"address\": \"0x2000000\", \"data\": \"c0ffee\"}").status());
            var read = api.call("PUT", "/vmi/memory/read", "{\"address\": \"0x2000000\", \"size\": 3}");
            assertTrue(read.body().contains("\"data\":\"c0ffee\""), read.body());
            assertTrue(api.recorded().events.stream().anyMatch(e -> e.kind().equals("memory-write")
                    && e.severity() == io.vmguard.events.Severity.WARNING));
        }
    }
}
