package io.vmguard.api.model;

/** {@code GET /}: Firecracker's InstanceInfo; {@code state} is "Not started", "Running" or "Paused". */
public record InstanceInfo(String id, String state, String vmmVersion, String appName) {}
