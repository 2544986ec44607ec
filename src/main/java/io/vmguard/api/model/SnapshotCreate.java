package io.vmguard.api.model;

import java.util.List;

/** {@code PUT /snapshot/create}: a full snapshot of the paused VM (Firecracker's default type). */
public record SnapshotCreate(String snapshotPath, String memFilePath, String snapshotType) {
    public SnapshotCreate {
        Fields.required(snapshotPath, "snapshot_path");
        Fields.required(memFilePath, "mem_file_path");
        snapshotType = Fields.oneOf(snapshotType == null ? "Full" : snapshotType, "snapshot_type", List.of("Full", "Diff"));
    }
}
