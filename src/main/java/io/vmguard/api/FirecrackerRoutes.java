package io.vmguard.api;

import io.vmguard.api.model.BootSource;
import io.vmguard.api.model.Drive;
import io.vmguard.api.model.InstanceAction;
import io.vmguard.api.model.LoggerConfig;
import io.vmguard.api.model.MachineConfig;
import io.vmguard.api.model.MetricsConfig;
import io.vmguard.api.model.NetworkInterface;
import io.vmguard.api.model.SnapshotCreate;
import io.vmguard.api.model.SnapshotLoad;
import io.vmguard.api.model.VmStateChange;
import java.util.Map;

/**
 * The requests Firecracker's API defines, with its paths, bodies and status codes: each endpoint reads
 * its body record and hands it to {@link Instance} (the VM's life) or {@link PreBootConfig} (before boot).
 */
final class FirecrackerRoutes {
    private FirecrackerRoutes() {}

    static void register(Routes routes, ApiContext api) {
        Instance instance = api.instance();
        routes.add("GET", "/", (id, body) -> Reply.ok(instance.info()))
              .add("GET", "/version", (id, body) -> Reply.ok(Map.of("firecracker_version", Version.NUMBER)))
              .add("GET", "/vm/config", (id, body) -> Reply.ok(instance.vmConfig()))
              .add("GET", "/machine-config", (id, body) -> Reply.ok(instance.machineConfig()))
              .add("PUT", "/boot-source", (id, body) -> {
                  BootSource source = Json.read(body, BootSource.class);
                  instance.configure(config -> config.putBootSource(source));
                  return Reply.noContent();
              })
              .add("PUT", "/machine-config", (id, body) -> {
                  MachineConfig machine = Json.read(body, MachineConfig.class);
                  instance.configure(config -> config.putMachineConfig(machine));
                  return Reply.noContent();
              })
              .add("PATCH", "/machine-config", (id, body) -> {
                  MachineConfig patch = Json.read(body, MachineConfig.class);
                  instance.configure(config -> config.patchMachineConfig(patch));
                  return Reply.noContent();
              })
              .add("PUT", "/drives/{id}", (id, body) -> {
                  Drive drive = Json.read(body, Drive.class);
                  instance.configure(config -> config.putDrive(id, drive));
                  return Reply.noContent();
              })
              .add("PUT", "/network-interfaces/{id}", (id, body) -> {
                  NetworkInterface net = Json.read(body, NetworkInterface.class);
                  instance.configure(config -> config.putNetwork(id, net));
                  return Reply.noContent();
              })
              .add("PUT", "/logger", (id, body) -> {
                  api.logger().configure(Json.read(body, LoggerConfig.class));
                  return Reply.noContent();
              })
              .add("PUT", "/metrics", (id, body) -> {
                  api.metrics().configure(Json.read(body, MetricsConfig.class));
                  return Reply.noContent();
              })
              .add("PUT", "/actions", (id, body) -> {
                  switch (Json.read(body, InstanceAction.class).actionType()) {
                      case InstanceStart -> instance.start();
                      case SendCtrlAltDel -> instance.sendCtrlAltDel();
                      case FlushMetrics -> api.metrics().flush(instance.id(), () -> VmguardRoutes.metrics(api));
                  }
                  return Reply.noContent();
              })
              .add("PATCH", "/vm", (id, body) -> {
                  switch (Json.read(body, VmStateChange.class).state()) {
                      case Paused -> instance.pause();
                      case Resumed -> instance.resume();
                  }
                  return Reply.noContent();
              })
              .add("PUT", "/snapshot/create", (id, body) -> {
                  instance.snapshot(Json.read(body, SnapshotCreate.class));
                  return Reply.noContent();
              })
              .add("PUT", "/snapshot/load", (id, body) -> {
                  instance.load(Json.read(body, SnapshotLoad.class));
                  return Reply.noContent();
              });
    }
}
