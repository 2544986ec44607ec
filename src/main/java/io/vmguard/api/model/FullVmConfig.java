package io.vmguard.api.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** {@code GET /vm/config}: Firecracker's FullVmConfiguration, for the resources vmguard has. */
public record FullVmConfig(@JsonProperty("boot-source") BootSource bootSource,
                           @JsonProperty("machine-config") MachineConfig machineConfig,
                           List<Drive> drives,
                           @JsonProperty("network-interfaces") List<NetworkInterface> networkInterfaces) {}
