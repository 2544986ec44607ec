package io.vmguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import io.vmguard.net.NetSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The CLI over the control API: {@code status}, {@code pause}, {@code resume}, {@code snapshot},
 * {@code restore} and {@code events}, each one request (or two) to a running {@code vmguard serve} or
 * {@code vmguard run --api-sock}. Text for people by default, {@code --json} for programs.
 */
final class ClientCommands {
    private ClientCommands() {}

    /** "vm0: Running (vmguard 0.1.0)", or GET /'s JSON. */
    static void printInfo(JsonNode info, boolean json) {
        PrintStream out = System.out;
        if (json) {
            out.println(info);
        } else {
            out.println(info.path("id").asText() + ": " + info.path("state").asText() + " (" + info.path("app_name").asText()
                    + " " + info.path("vmm_version").asText() + ")");
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Show the VM's id and state.")
    static final class Status implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                printInfo(api.get("/"), options.json);
            }
            return 0;
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = "Pause the VM: every vCPU stops at an instruction boundary, devices go quiet.")
    static final class Pause implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                api.change("PATCH", "/vm", "{\"state\": \"Paused\"}");
                printInfo(api.get("/"), options.json);
            }
            return 0;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Resume a paused (or freshly restored) VM.")
    static final class Resume implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                api.change("PATCH", "/vm", "{\"state\": \"Resumed\"}");
                printInfo(api.get("/"), options.json);
            }
            return 0;
        }
    }

    /**
     * Firecracker snapshots only a paused VM. For people that is one step too many: a running VM is paused,
     * snapshotted and resumed, so it is left as it was found ({@code --leave-paused} keeps it paused, e.g.
     * to move it elsewhere). A paused VM stays paused.
     */
    @Command(name = "snapshot", mixinStandardHelpOptions = true,
            description = "Write a full snapshot. A running VM is paused for it and resumed after (unless --leave-paused).")
    static final class Snapshot implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Option(names = "--snapshot-path", paramLabel = "FILE", required = true, description = "the state file to write")
        Path snapshotPath;

        @Option(names = "--mem-path", paramLabel = "FILE", required = true, description = "the guest memory file to write")
        Path memPath;

        @Option(names = "--leave-paused", description = "keep the VM paused after the snapshot")
        boolean leavePaused;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                boolean wasRunning = api.get("/").path("state").asText().equals("Running");
                if (wasRunning) {
                    api.change("PATCH", "/vm", "{\"state\": \"Paused\"}");
                }
                Map<String, Object> request = new LinkedHashMap<>();
                request.put("snapshot_type", "Full");
                request.put("snapshot_path", snapshotPath.toAbsolutePath().toString());
                request.put("mem_file_path", memPath.toAbsolutePath().toString());
                try {
                    api.change("PUT", "/snapshot/create", ApiClient.json(request));
                } finally {
                    if (wasRunning && !leavePaused) {
                        api.change("PATCH", "/vm", "{\"state\": \"Resumed\"}"); // as it was, even when the snapshot failed
                    }
                }
                JsonNode info = api.get("/");
                if (options.json) {
                    request.put("state", info.path("state").asText());
                    System.out.println(ApiClient.json(request));
                } else {
                    System.out.println("snapshot written: " + request.get("snapshot_path") + " (memory "
                            + request.get("mem_file_path") + "); " + info.path("id").asText() + " is " + info.path("state").asText());
                }
            }
            return 0;
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true,
            description = "Load a snapshot into a fresh 'vmguard serve'; it stays paused unless --resume.")
    static final class Restore implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Option(names = "--snapshot-path", paramLabel = "FILE", required = true, description = "the state file")
        Path snapshotPath;

        @Option(names = "--mem-path", paramLabel = "FILE", required = true, description = "the guest memory file")
        Path memPath;

        @Option(names = "--resume", description = "run the VM once it is loaded")
        boolean resume;

        @Option(names = "--net", paramLabel = "ethN=BACKEND",
                description = "a new backend for card ethN (repeatable): ethN=tap:IFNAME[,mac=MAC] or "
                        + "ethN=socket:LOCAL_PATH,PEER_PATH[,mac=MAC]; clones need their own; the card (virtio or e1000) "
                        + "stays the snapshot's")
        List<String> nets = new ArrayList<>();

        @Option(names = "--disk", paramLabel = "vdX=FILE",
                description = "another image for disk vdX (repeatable), of the same size: a disk is opened by one VM at a "
                        + "time, so clones that write need their own copies")
        List<String> disks = new ArrayList<>();

        @Override
        public Integer call() throws CliException {
            Map<String, Object> request = new LinkedHashMap<>();
            request.put("snapshot_path", snapshotPath.toAbsolutePath().toString());
            request.put("mem_backend", Map.of("backend_type", "File", "backend_path", memPath.toAbsolutePath().toString()));
            request.put("resume_vm", resume);
            List<Map<String, Object>> overrides = new ArrayList<>();
            for (String net : nets) {
                overrides.add(override(net));
            }
            if (!overrides.isEmpty()) {
                request.put("network_overrides", overrides);
            }
            List<Map<String, Object>> driveOverrides = new ArrayList<>();
            for (String disk : disks) {
                int equals = disk.indexOf('=');
                if (equals <= 0 || equals == disk.length() - 1) {
                    throw new CliException("--disk must be vdX=FILE, not '" + disk + "'");
                }
                driveOverrides.add(Map.of("drive_id", disk.substring(0, equals),
                        "path_on_host", Path.of(disk.substring(equals + 1)).toAbsolutePath().toString()));
            }
            if (!driveOverrides.isEmpty()) {
                request.put("vmguard_drive_overrides", driveOverrides);
            }
            try (ApiClient api = options.connect()) {
                api.change("PUT", "/snapshot/load", ApiClient.json(request));
                printInfo(api.get("/"), options.json);
            }
            return 0;
        }

        private static Map<String, Object> override(String text) throws CliException {
            int equals = text.indexOf('=');
            if (equals <= 0) {
                throw new CliException("--net must be ethN=BACKEND, not '" + text + "'");
            }
            Map<String, Object> override = new LinkedHashMap<>();
            override.put("iface_id", text.substring(0, equals));
            NetSpec spec;
            try {
                spec = NetSpec.parse(text.substring(equals + 1));
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage());
            }
            switch (spec) {
                case NetSpec.Tap tap -> override.put("host_dev_name", tap.name());
                case NetSpec.Socket socket -> override.put("vmguard_socket", Map.of(
                        "local_path", socket.local().toAbsolutePath().toString(),
                        "peer_path", socket.peer().toAbsolutePath().toString()));
            }
            spec.mac().ifPresent(mac -> override.put("guest_mac", mac.toString()));
            return override;
        }
    }

    @Command(name = "events", mixinStandardHelpOptions = true,
            description = "Follow the VM's security events as they happen, until the VM ends (Ctrl-C to stop).")
    static final class Events implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect();
                 BufferedReader lines = new BufferedReader(new InputStreamReader(api.stream("/events"), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    if (line.isBlank()) {
                        continue; // the server's keep-alive
                    }
                    System.out.println(options.json ? line : text(ApiClient.parse(line)));
                    System.out.flush();
                }
            } catch (IOException e) {
                throw new CliException("the event stream broke: " + e.getMessage());
            }
            return 0;
        }

        /** "TIME VM SOURCE/KIND SEVERITY key=value ...". */
        static String text(JsonNode event) {
            StringBuilder line = new StringBuilder()
                    .append(event.path("time").asText()).append(' ')
                    .append(event.path("vm").asText()).append(' ')
                    .append(event.path("source").asText()).append('/').append(event.path("kind").asText()).append(' ')
                    .append(event.path("severity").asText());
            for (Map.Entry<String, JsonNode> field : event.path("details").properties()) {
                line.append(' ').append(field.getKey()).append('=').append(field.getValue().isTextual()
                        ? field.getValue().asText() : field.getValue().toString());
            }
            return line.toString();
        }
    }
}
