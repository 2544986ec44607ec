package io.vmguard.vmm;

import java.nio.file.Path;
import java.util.Objects;

/** Everything needed to build and boot one VM. */
public record VmConfig(Path kernel, Path initrd, String commandLine, long memoryBytes, String engine, SerialTarget serial) {
    public VmConfig {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(commandLine, "commandLine");
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(serial, "serial");
    }
}
