package io.vmguard.api;

import io.vmguard.api.model.BootSource;
import io.vmguard.api.model.Drive;
import io.vmguard.api.model.InstanceAction;
import io.vmguard.api.model.MachineConfig;
import io.vmguard.api.model.NetworkInterface;
import io.vmguard.api.model.SnapshotCreate;
import io.vmguard.api.model.SnapshotLoad;
import io.vmguard.api.model.VmStateChange;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * What a server does while it waits for its first request: the first time Jackson reads a request type it
 * builds that type's deserializer (tens of milliseconds each on a cold JVM), and the VMM has its own first
 * costs ({@link io.vmguard.vmm.WarmUp}). Paying them here keeps them out of the first boot or restore:
 * Firecracker, a native program, has none of them. Reads sample bodies only; changes no state.
 */
final class WarmUp {
    private WarmUp() {}

    /** Starts the warm-up on a background thread of low priority; {@code handlers} warms the request path. */
    static void start(String engine, Runnable handlers) {
        Thread thread = Thread.ofPlatform().daemon().name("api-warm-up").unstarted(() -> {
            run(engine);
            handlers.run();
        });
        thread.setPriority(Thread.MIN_PRIORITY);
        thread.start();
    }

    private static void run(String engine) {
        try {
            read("{\"snapshot_path\": \"s\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"m\"},"
                    + " \"resume_vm\": true, \"network_overrides\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"t\"}],"
                    + " \"vmguard_drive_overrides\": [{\"drive_id\": \"vda\", \"path_on_host\": \"d\"}]}", SnapshotLoad.class);
            read("{\"snapshot_type\": \"Full\", \"snapshot_path\": \"s\", \"mem_file_path\": \"m\"}", SnapshotCreate.class);
            read("{\"state\": \"Paused\"}", VmStateChange.class);
            read("{\"action_type\": \"InstanceStart\"}", InstanceAction.class);
            read("{\"kernel_image_path\": \"k\", \"boot_args\": \"a\"}", BootSource.class);
            read("{\"vcpu_count\": 1, \"mem_size_mib\": 256}", MachineConfig.class);
            read("{\"drive_id\": \"d\", \"path_on_host\": \"p\", \"is_root_device\": false, \"is_read_only\": false}", Drive.class);
            read("{\"iface_id\": \"eth0\", \"host_dev_name\": \"t\"}", NetworkInterface.class);
            Json.write(Map.of("state", "Not started"));
            io.vmguard.vmm.WarmUp.forEngine(engine);
        } catch (ApiError | RuntimeException e) {
            // A warm-up that fails costs only time; the request that needs the same thing will report it.
        }
    }

    private static void read(String body, Class<?> type) throws ApiError {
        Json.read(body.getBytes(StandardCharsets.UTF_8), type);
    }
}
