package io.vmguard.api.model;

/** {@code PUT /vmi/dump}: write guest memory and vCPU state as an ELF core file at {@code path} (mode 0600). */
public record DumpRequest(String path) {
    public DumpRequest {
        Fields.required(path, "path");
    }
}
