package io.vmguard.api.model;

import java.util.List;

/**
 * {@code PUT /drives/{drive_id}}: a virtio-blk disk on a raw image. {@code cache_type} "Unsafe" and
 * "Writeback" are both accepted: vmguard always makes a guest's FLUSH durable (fsync), which is
 * Writeback's promise. {@code io_engine} is "Sync" only. {@code partuuid} names the root partition.
 */
public record Drive(String driveId, String pathOnHost, Boolean isRootDevice, Boolean isReadOnly, String partuuid,
                    String cacheType, String ioEngine) {
    public Drive {
        Fields.required(driveId, "drive_id");
        Fields.required(pathOnHost, "path_on_host");
        Fields.required(isRootDevice, "is_root_device");
        isReadOnly = isReadOnly != null && isReadOnly;
        Fields.notBlank(partuuid, "partuuid");
        cacheType = Fields.oneOf(cacheType == null ? "Unsafe" : cacheType, "cache_type", List.of("Unsafe", "Writeback"));
        ioEngine = Fields.oneOf(ioEngine == null ? "Sync" : ioEngine, "io_engine", List.of("Sync"));
    }
}
