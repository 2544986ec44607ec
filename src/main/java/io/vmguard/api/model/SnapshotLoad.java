package io.vmguard.api.model;

import java.util.List;

/**
 * {@code PUT /snapshot/load}. Exactly one of {@code mem_backend} and the deprecated {@code mem_file_path}.
 * Dirty-page tracking and {@code clock_realtime} are accepted only off, {@code huge_pages} only as
 * "Snapshot" or "None": vmguard has neither diff snapshots nor huge pages. {@code vmguard_drive_overrides}
 * is vmguard's: clones that write need their own disk images.
 */
public record SnapshotLoad(String snapshotPath, MemoryBackend memBackend, String memFilePath, Boolean resumeVm,
                           Boolean trackDirtyPages, Boolean enableDiffSnapshots, List<NetworkOverride> networkOverrides,
                           Boolean clockRealtime, String hugePages, List<DriveOverride> vmguardDriveOverrides) {
    public SnapshotLoad {
        Fields.required(snapshotPath, "snapshot_path");
        Fields.notBlank(memFilePath, "mem_file_path");
        if (memBackend != null && memFilePath != null) {
            throw new IllegalArgumentException("too many fields: either `mem_backend` or `mem_file_path` exclusively is required");
        }
        if (memBackend == null && memFilePath == null) {
            throw new IllegalArgumentException("missing field: either `mem_backend` or `mem_file_path` is required");
        }
        resumeVm = resumeVm != null && resumeVm;
        if (Boolean.TRUE.equals(trackDirtyPages) || Boolean.TRUE.equals(enableDiffSnapshots)) {
            throw new IllegalArgumentException("vmguard has no diff snapshots: dirty page tracking cannot be enabled");
        }
        if (Boolean.TRUE.equals(clockRealtime)) {
            throw new IllegalArgumentException("`clock_realtime` is not supported by vmguard");
        }
        Fields.oneOf(hugePages, "huge_pages", List.of("Snapshot", "None"));
        networkOverrides = networkOverrides == null ? List.of() : List.copyOf(networkOverrides);
        vmguardDriveOverrides = vmguardDriveOverrides == null ? List.of() : List.copyOf(vmguardDriveOverrides);
    }

    /** The memory file, from whichever field gave it. */
    public String memoryPath() {
        return memBackend != null ? memBackend.backendPath() : memFilePath;
    }
}
