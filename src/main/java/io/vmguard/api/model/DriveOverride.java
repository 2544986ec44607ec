package io.vmguard.api.model;

/**
 * vmguard's extension to {@code PUT /snapshot/load}: another image for one of the snapshot's disks. A disk
 * image is opened by one VM at a time, so clones that write need their own copies (of the same size).
 * Disks are named by their guest names (vda, vdb, ...) because a snapshot does not record drive ids.
 */
public record DriveOverride(String driveId, String pathOnHost) {
    public DriveOverride {
        Fields.required(driveId, "drive_id");
        Fields.required(pathOnHost, "path_on_host");
        Fields.notBlank(pathOnHost, "path_on_host");
    }
}
