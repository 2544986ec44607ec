package io.vmguard.api.model;

import java.util.List;

/** Where a snapshot's guest memory comes from; vmguard maps a "File" (Firecracker also knows "Uffd"). */
public record MemoryBackend(String backendType, String backendPath) {
    public MemoryBackend {
        Fields.oneOf(Fields.required(backendType, "backend_type"), "backend_type", List.of("File", "Uffd"));
        Fields.required(backendPath, "backend_path");
    }
}
